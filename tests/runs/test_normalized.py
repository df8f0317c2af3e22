"""The normalising wrapper of operator runs: statistics apply to every channel except declared raw ones (masks)."""

import torch

import sciml.models
from sciml.fields.grid import Grid
from sciml.runs.operator import normalized


def _masked_deeponet():
    torch.manual_seed(0)
    return sciml.models.build(
        "deeponet", layer_sizes_branch=[2, 16, 16], layer_sizes_trunk=[2, 16, 16], branch="cnn", mask_channel=1,
        cnn_channels=[4, 4], cnn_pool=2,
    )  # fmt: skip


def test_mask_channel_reaches_the_model_unscaled_and_zeroes_the_output_outside():
    grid = Grid.uniform((16, 16))
    inside = torch.ones(16, 16, dtype=torch.bool)
    inside[:4, :4] = False  # 94% inside: the channel's mean is 0.94 and std 0.24, so (1 - mean) / std < 0.5
    x = torch.cat([torch.randn(3, 1, 16, 16), inside.float().expand(3, 1, 16, 16)], dim=1)
    model = _masked_deeponet().eval()
    wrapped = normalized(model, 2, 1).eval()
    mean_x, std_x = x.mean(dim=(0, 2, 3)), x.std(dim=(0, 2, 3))
    wrapped.set_stats(mean_x, std_x, torch.tensor([0.3]), torch.tensor([2.0]))
    out = wrapped(x, grid)
    assert torch.all(out[:, :, ~inside] == 0.3)  # zero before de-normalisation: exactly the output mean outside
    assert (out[:, :, inside] != 0.3).float().mean() > 0.99
    # the function channel is normalised, the mask channel is not
    x_seen = torch.cat([(x[:, :1] - mean_x[0]) / std_x[0], x[:, 1:]], dim=1)
    torch.testing.assert_close(out, model(x_seen, grid) * 2.0 + 0.3)
    assert "in_raw" not in wrapped.state_dict()  # checkpoints keep their keys


def test_models_without_raw_channels_get_every_channel_normalised():
    grid = Grid.uniform((8, 8), periodic=True)
    torch.manual_seed(0)
    model = sciml.models.build("fno", in_channels=2, out_channels=1, n_modes=[3, 3], hidden_channels=8).eval()
    wrapped = normalized(model, 2, 1).eval()
    mean, std = torch.tensor([1.0, -2.0]), torch.tensor([0.5, 3.0])
    wrapped.set_stats(mean, std, torch.tensor([0.1]), torch.tensor([4.0]))
    x = torch.randn(2, 2, 8, 8)
    expected = model((x - mean.view(1, 2, 1, 1)) / std.view(1, 2, 1, 1), grid) * 4.0 + 0.1
    torch.testing.assert_close(wrapped(x, grid), expected)
