"""CoDA-NO in the shared resolution suite (neuraloperator's CODANO is checked side by side in
tests/models/test_codano.py, where it fails the same bound)."""

import torch

import sciml.models
from sciml.testing.resolution import ResolutionCase, register_case


def _codano(domain_padding: float = 0.0):
    def factory():
        torch.manual_seed(0)
        return sciml.models.build(
            "codano",
            variables=["a", "b"],
            n_modes=[8, 8],
            width=8,
            n_layers=2,
            n_heads=2,
            head_width=4,
            cls_token=True,
            domain_padding=domain_padding,
        )

    return factory


def _forward(m, x, g):
    return m(x, g, ["a", "b"])


# Periodic grids: fixed-mode spectral operators, quadrature attention and grid-independent encodings see the same
# functions on every grid; what remains is aliasing of the nonlinearities, which falls fast as N grows.
# Measured d(N,2N) / d(2N,4N): 24x40 and 32x32 7.3e-3 / 1e-4, 33x33 6.2e-3 / 1e-4.
register_case(
    ResolutionCase(
        name="codano",
        factory=_codano(),
        in_channels=2,
        base_shapes=[(24, 40), (32, 32), (33, 33)],
        periodic=True,
        bound=0.02,
        forward=_forward,
    )
)
# Non-periodic grids at the defaults (no domain padding): the FFTs treat the box as periodic, so the jump between
# opposite edges is a feature whose spectrum depends on N; the gap halves with N but starts far above the bound.
register_case(
    ResolutionCase(
        name="codano-nonperiodic",
        factory=_codano(),
        in_channels=2,
        base_shapes=[(33, 33), (48, 80)],
        periodic=False,
        bound=0.02,
        xfail=(
            "without domain padding the spectral layers see the non-periodic box as periodic; measured d(N,2N) / "
            "d(2N,4N): 33x33 0.140/0.072, 48x80 0.079/0.040 (halving with N, not yet below 0.02)"
        ),
        regression_bound=0.2,
        forward=_forward,
    )
)
# With domain_padding=0.25 (a padded period of the same physical length on every grid): measured 33x33
# 0.048/0.023, 48x80 0.026/0.019. Recommended for non-periodic data (docs/models/codano.md).
register_case(
    ResolutionCase(
        name="codano-nonperiodic-padded",
        factory=_codano(0.25),
        in_channels=2,
        base_shapes=[(33, 33), (48, 80)],
        periodic=False,
        bound=0.06,
        forward=_forward,
    )
)
