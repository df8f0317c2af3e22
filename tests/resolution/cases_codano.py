"""CoDA-NO in the shared resolution suite (neuraloperator's CODANO is checked side by side in
tests/models/test_codano.py, where it fails the same bound)."""

import torch

import sciml.models
from sciml.testing.resolution import ResolutionCase, register_case


def _codano():
    torch.manual_seed(0)
    return sciml.models.build(
        "codano", variables=["a", "b"], n_modes=[8, 8], width=8, n_layers=2, n_heads=2, head_width=4, cls_token=True
    )


# Periodic grids: fixed-mode spectral operators, quadrature attention and grid-independent encodings see the same
# functions on every grid; what remains is aliasing of the nonlinearities, which falls fast as N grows.
register_case(
    ResolutionCase(
        name="codano",
        factory=_codano,
        in_channels=2,
        base_shapes=[(24, 40)],
        periodic=True,
        bound=0.02,
        forward=lambda m, x, g: m(x, g, ["a", "b"]),
    )
)
