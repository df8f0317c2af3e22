"""DeepONet in the shared resolution suite: the trunk is pointwise, the branch is where resolution enters.

* MLP branch on sampled functions: the branch reads its m sensors; an input at another resolution is resampled to
  the sensor grid (here 8 x 8, periodic: a spectral truncation that is the same for every N >= 9), and the trunk is
  evaluated at the new grid's points. So the outputs at shared points agree to round-off: measured d(16,32) and
  d(32,64) are exactly 0 (float64). The price is that nothing finer than the sensors reaches the branch.
* CNN branch: 3x3 strided convolutions cover one cell at every N and adaptive pooling averages what they see, so
  the same weights are a different operator on a finer grid (as MgNO's stencils): strict xfail with the measured
  gaps, and a regression bound so a drift is still caught.
"""

import torch

import sciml.models
from sciml.testing.resolution import ResolutionCase, register_case


def _mlp():
    torch.manual_seed(0)
    return sciml.models.build(
        "deeponet", layer_sizes_branch=[64, 32, 32], layer_sizes_trunk=[2, 32, 32], sensor_shape=[8, 8]
    )


def _cnn():
    torch.manual_seed(0)
    return sciml.models.build(
        "deeponet", layer_sizes_branch=[1, 32, 32], layer_sizes_trunk=[2, 32, 32], branch="cnn", cnn_channels=[8, 8]
    )


register_case(
    ResolutionCase(
        name="deeponet-mlp-sensors",
        factory=_mlp,
        in_channels=1,
        base_shapes=[(16, 16)],
        periodic=True,
        bound=1e-10,  # measured d(16,32) = d(32,64) = 0.0: the sensors see the same truncated input
    )
)
register_case(
    ResolutionCase(
        name="deeponet-cnn",
        factory=_cnn,
        in_channels=1,
        base_shapes=[(16, 16), (24, 24)],
        periodic=True,
        xfail=(
            "the CNN branch's 3x3 strided convolutions cover one cell at every N, so the same weights are a "
            "different operator on a finer grid. Measured d(N,2N) / d(2N,4N): 16x16 0.507/0.262, 24x24 0.267/0.201"
        ),
        regression_bound=0.65,  # max measured gap 0.507 (16x16)
    )
)
