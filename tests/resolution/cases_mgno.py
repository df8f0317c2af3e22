"""MgNO in the shared resolution suite: the discretization-consistent V-cycle passes; the native one is a strict xfail.

Issue #17: with ``consistent=False`` (the native cycle) every learned operator of the V-cycle is tied to the grid
spacing: the 3x3 smoothers/residual stencils and the stride-2 restriction/prolongation stencils cover one cell of
whatever grid they run on, and the number of levels is fixed, so the coarsest grid shrinks physically as N grows.
Untrained ablations (width 8, 2 layers, 3 levels, float64, periodic, d(N,2N) / d(2N,4N) at 32x32; table in
docs/models/mgno.md): native 0.270/0.229; one level only (no transfers) 0.302/0.141; pointwise A, S with learned
transfers 0.136/0.137; pointwise A, S with fixed full-weighting/bilinear transfers (only the level count left)
0.196/0.074; all pointwise on one level 2e-7/3e-12; FD-scaled stencils (scale_stencils) 0.582/0.683.

``consistent=True`` pins the learned levels to the ``reference_resolution`` grid (fixed physical spacings, coarsest
level fixed in physical size) and connects it to the input grid by fixed piecewise-linear transfers
(sciml/layers/multigrid.py). Measured at initialisation (same model, consistent, reference_resolution=32):

* periodic: 32x32 0.0157/0.00377, 33x33 0.0285/0.0126, 24x40 0.0403/0.0270, 48x80 0.0270/0.00113;
* non-periodic (zero padding, N -> 2N-1 -> 4N-3 nodes): 32x32 0.0203/0.00492, 33x33 0.0290/0.0128;
* bias="constant", periodic 32x32: 0.0157/0.00377; with norm="none" the 32x32 gaps are exactly 0 (injection onto
  the reference nodes, interpolatory prolongation); the residual gap above comes from the layer normalisation's
  spatial variance, which includes the interpolated points.

Grids coarser than the reference are interpolated up to it (bilinear), which costs O((k h)^2) on the input: with
the default reference_resolution=64 and a 32x32 base grid the first gap is just above the bound (strict xfail
below). The native cycle stays registered as a strict xfail with a drift bound.
"""

import torch

import sciml.models
from sciml.testing.resolution import ResolutionCase, register_case

_NATIVE_WHY = (
    "consistent=False: MgNO's 3x3 stencils, stride-2 transfer stencils and fixed number of levels are tied to the "
    "grid spacing, so the same weights are a different operator on a finer grid. Measured d(N,2N) / d(2N,4N): "
)
_REGRESSION_BOUND = 0.35  # native: max measured gap 0.281 (24x40)


def _mgno(bias="function", consistent=True, reference_resolution=32):
    def factory():
        torch.manual_seed(0)
        return sciml.models.build(
            "mgno",
            in_channels=1,
            out_channels=1,
            width=8,
            n_layers=2,
            levels=3,
            padding="auto",
            bias=bias,
            consistent=consistent,
            reference_resolution=reference_resolution,
        )

    return factory


register_case(
    ResolutionCase(
        name="mgno",
        factory=_mgno(),
        in_channels=1,
        base_shapes=[(32, 32), (33, 33), (24, 40), (48, 80)],
        periodic=True,
    )
)
# zero padding on every stencil (Dirichlet ghost layer); non-periodic grids refine N -> 2N-1 -> 4N-3 nodes
register_case(
    ResolutionCase(
        name="mgno-nonperiodic",
        factory=_mgno(),
        in_channels=1,
        base_shapes=[(32, 32), (33, 33)],
        periodic=False,
    )
)
# circular padding everywhere (prolongation included): exact equivariance for shifts by multiples of
# 2^(levels-1) = 4 cells of the reference grid (32x32), i.e. 8 cells of the 64x64 grid the suite shifts on (a
# 4-cell shift there, half of that, gives 6.1e-2: the injection onto the reference nodes changes);
# position-dependent bias functions are replaced by constants.
register_case(
    ResolutionCase(
        name="mgno-constant-bias",
        factory=_mgno("constant"),
        in_channels=1,
        base_shapes=[(32, 32)],
        periodic=True,
        shift_equivariant=True,
        shift_cells=8,
        shift_tol=1e-10,
    )
)
# reference grid finer than the base grid: the 32x32 input is interpolated (bilinear) up to 64x64
register_case(
    ResolutionCase(
        name="mgno-upsampled",
        factory=_mgno(reference_resolution=64),
        in_channels=1,
        base_shapes=[(32, 32)],
        periodic=True,
        xfail="consistent=True, reference_resolution=64 on a 32x32 base grid: the bilinear interpolation of the "
        "input up to the reference grid costs O((k h)^2); measured d(32,64) / d(64,128) = 0.0526/0.00755 "
        "(shrinking, but the first gap is above the 0.05 bound)",
        regression_bound=0.07,
    )
)
# the native cycle (consistent=False), kept for comparison and old configurations
register_case(
    ResolutionCase(
        name="mgno-native",
        factory=_mgno(consistent=False, reference_resolution=64),
        in_channels=1,
        base_shapes=[(32, 32), (33, 33), (24, 40), (48, 80)],
        periodic=True,
        xfail=_NATIVE_WHY + "32x32 0.270/0.229, 33x33 0.266/0.228, 24x40 0.281/0.231, 48x80 0.230/0.208 (periodic)",
        regression_bound=_REGRESSION_BOUND,
    )
)
register_case(
    ResolutionCase(
        name="mgno-native-nonperiodic",
        factory=_mgno(consistent=False, reference_resolution=64),
        in_channels=1,
        base_shapes=[(32, 32), (33, 33)],
        periodic=False,
        xfail=_NATIVE_WHY + "32x32 0.275/0.229, 33x33 0.263/0.228 (non-periodic, zero padding)",
        regression_bound=_REGRESSION_BOUND,
    )
)
