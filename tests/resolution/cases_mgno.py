"""MgNO in the shared resolution suite: a strict xfail of the standard criterion, plus a drift bound.

MgNO's V-cycle uses 3x3 stencils whose footprint is one grid cell, so the same weights are a different operator on
a finer grid (resolution.md, rule 3): MgNO is resolution-flexible (any grid, same parameters) but not
discretization-convergent (docs/models/mgno.md). Its cases therefore keep the suite's default bound (0.05) and
are registered as strict xfail with the measured numbers; ``regression_bound=0.35`` is checked without xfail
(``test_known_gap_does_not_drift``), so a drift of the gap is still caught.

Measured at initialisation (width 8, 2 layers, 3 levels, padding "auto", float64, band-limited inputs with 4
modes), d(N,2N) / d(2N,4N):

* periodic: 32x32 0.270 / 0.229, 33x33 0.266 / 0.228, 24x40 0.281 / 0.231, 48x80 0.230 / 0.208;
* non-periodic (zero padding, N -> 2N-1 -> 4N-3 nodes): 32x32 0.275 / 0.229, 33x33 0.263 / 0.228;
* bias="constant", periodic 32x32: 0.270 / 0.229 (the bias functions start at zero).

The gap shrinks with N but stays far above the 0.05 bound. FD scaling of the stencils (scale_stencils=True,
default reference_resolution=64) makes it worse and growing: 0.582 / 0.683 at 32x32 periodic, so it is not used.
"""

import torch

import sciml.models
from sciml.testing.resolution import ResolutionCase, register_case

_WHY = (
    "MgNO's 3x3 stencils cover one grid cell at every N, so the same weights are a different operator on a finer "
    "grid; the gap shrinks slowly but stays far above the 0.05 bound. Measured d(N,2N) / d(2N,4N): "
)
_REGRESSION_BOUND = 0.35  # max measured gap 0.281 (24x40)


def _mgno(bias):
    def factory():
        torch.manual_seed(0)
        return sciml.models.build(
            "mgno", in_channels=1, out_channels=1, width=8, n_layers=2, levels=3, padding="auto", bias=bias
        )

    return factory


register_case(
    ResolutionCase(
        name="mgno",
        factory=_mgno("function"),
        in_channels=1,
        base_shapes=[(32, 32), (33, 33), (24, 40), (48, 80)],
        periodic=True,
        xfail=_WHY + "32x32 0.270/0.229, 33x33 0.266/0.228, 24x40 0.281/0.231, 48x80 0.230/0.208 (periodic)",
        regression_bound=_REGRESSION_BOUND,
    )
)
# zero padding on every stencil (Dirichlet ghost layer); non-periodic grids refine N -> 2N-1 -> 4N-3 nodes
register_case(
    ResolutionCase(
        name="mgno-nonperiodic",
        factory=_mgno("function"),
        in_channels=1,
        base_shapes=[(32, 32), (33, 33)],
        periodic=False,
        xfail=_WHY + "32x32 0.275/0.229, 33x33 0.263/0.228 (non-periodic, zero padding)",
        regression_bound=_REGRESSION_BOUND,
    )
)
# circular padding everywhere (prolongation included): exact equivariance for shifts by 2^(levels-1) = 4 cells;
# position-dependent bias functions are replaced by constants for this claim. The shift check is not xfail.
register_case(
    ResolutionCase(
        name="mgno-constant-bias",
        factory=_mgno("constant"),
        in_channels=1,
        base_shapes=[(32, 32)],
        periodic=True,
        xfail=_WHY + "32x32 0.270/0.229 (periodic, constant bias)",
        regression_bound=_REGRESSION_BOUND,
        shift_equivariant=True,
        shift_cells=4,
        shift_tol=1e-10,
    )
)
