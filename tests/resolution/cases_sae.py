"""Sparse autoencoders in the shared resolution suite: SAE-NO and L-SAE-NO (operators) and SAE-CNN (pixel kernels).

SAE-NO's codes are band-limited functions of the input's Fourier coefficients, so they agree at shared points to
round-off; its reconstruction decodes ReLU(codes), which is not band-limited, so the gap is the aliasing of the ReLU
kinks and shrinks with N. SAE-CNN's kernels have a fixed width in pixels: on a finer grid they cover a narrower
interval, so it is a different operator at each resolution (a strict xfail with the measured gaps).
"""

import torch

import sciml.models
from sciml.testing.resolution import ResolutionCase, register_case


def _model(name, **kw):
    def factory():
        torch.manual_seed(0)
        return sciml.models.build(name, n_latents=6, **kw)

    return factory


def _codes(model, x, grid):
    return model.encode(x, grid)


for name, kw in (("sae_no", {"n_modes": 6}), ("lifted_sae_no", {"n_modes": 6, "lift_channels": 4})):
    register_case(
        ResolutionCase(
            name=f"{name}-reconstruction",
            factory=_model(name, **kw),
            in_channels=1,
            base_shapes=[(32,), (33,)],
            periodic=True,
            bound=1e-2,  # measured d(N,2N) 9.6e-4..2.9e-3 at N = 32, 33; d(2N,4N) 3-6x smaller
            shift_equivariant=True,
            shift_tol=1e-10,
        )
    )
    register_case(
        ResolutionCase(
            name=f"{name}-codes",
            factory=_model(name, **kw),
            in_channels=1,
            base_shapes=[(32,)],
            periodic=True,
            bound=1e-10,  # band-limited: equal at shared points to round-off (measured 2e-16..4e-16)
            forward=_codes,
        )
    )
register_case(
    ResolutionCase(
        name="sae_no-2d-reconstruction",
        factory=_model("sae_no", ndim=2, n_modes=[5, 5]),
        in_channels=1,
        base_shapes=[(16, 16), (16, 24)],
        periodic=True,
        modes=3,
        bound=2e-2,  # measured d(16,32) = 5.3e-3, 3.8e-3; d(32,64) = 7.6e-4, 5.6e-4
    )
)
register_case(
    ResolutionCase(
        name="sae_cnn-reconstruction",
        factory=_model("sae_cnn", kernel_size=7),
        in_channels=1,
        base_shapes=[(32,)],
        periodic=True,
        bound=5e-3,
        xfail="pixel kernels: a 7-cell kernel is a different operator at each N; measured d(32,64)=3.5e-1, "
        "d(64,128)=2.0e-1 (SAE-NO: 9.6e-4, 3.9e-4)",
        regression_bound=0.5,
    )
)
register_case(
    ResolutionCase(
        name="sae_cnn-codes",
        factory=_model("sae_cnn", kernel_size=7),
        in_channels=1,
        base_shapes=[(32,)],
        periodic=True,
        bound=1e-10,
        forward=_codes,
        xfail="pixel kernels: codes measured d(32,64)=2.8e-1, d(64,128)=1.8e-1 (SAE-NO: 2e-16)",
        regression_bound=0.5,
    )
)
