"""FNO (neuraloperator layers, sciml positions) in the shared resolution suite."""

import torch

import sciml.models
from sciml.testing.resolution import ResolutionCase, register_case


def _fno(positional_embedding):
    def factory():
        torch.manual_seed(0)
        return sciml.models.build(
            "fno",
            in_channels=1,
            out_channels=1,
            n_modes=[8, 8],
            hidden_channels=16,
            n_layers=2,
            positional_embedding=positional_embedding,
        )

    return factory


# Periodic grids: spectral layers with fixed modes see the same function at every N, so the gap is round-off.
register_case(
    ResolutionCase(
        name="fno",
        factory=_fno("auto"),
        in_channels=1,
        base_shapes=[(32, 32), (33, 33), (24, 40)],
        periodic=True,
        bound=1e-3,
    )
)
# Without positions the FNO commutes with grid shifts exactly.
register_case(
    ResolutionCase(
        name="fno-nopos",
        factory=_fno("none"),
        in_channels=1,
        base_shapes=[(32, 32)],
        periodic=True,
        bound=1e-3,
        shift_equivariant=True,
        shift_cells=3,
        shift_tol=1e-10,
    )
)
