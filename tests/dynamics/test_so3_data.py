"""so3_trajectories: exact rotations converging to the goal, continuous quaternions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sciml.core.errors import ConfigError
from sciml.data.so3 import so3_trajectories
from sciml.geometry.so3 import quat_to_matrix, so3_log


@pytest.mark.parametrize("source", ["lasa", "field"])
def test_so3_trajectories_are_rotations_converging_to_goal(source):
    d = so3_trajectories(n_samples=3, resolution=50, source=source, goal_axis_angle=[0.2, -0.4, 1.0], duration=8.0)
    R = d["rotations"]
    assert R.shape == (3, 50, 3, 3) and d["positions"].shape == (3, 50, 3) and d["quaternions"].shape == (3, 50, 4)
    np.testing.assert_allclose(R.swapaxes(-1, -2) @ R, np.broadcast_to(np.eye(3), R.shape), atol=1e-13)
    np.testing.assert_allclose(np.linalg.det(R), 1.0, atol=1e-13)
    err = so3_log(torch.as_tensor(d["goal_rotation"]).T @ torch.as_tensor(R)).norm(dim=-1).numpy()
    assert err.max() < 0.75 * np.pi + 1e-9
    assert err[:, -1].max() < (1e-9 if source == "lasa" else 0.01 * err[:, 0].min())
    np.testing.assert_allclose(quat_to_matrix(torch.as_tensor(d["quaternions"])).numpy(), R, atol=1e-12)
    assert (np.sum(d["quaternions"][:, 1:] * d["quaternions"][:, :-1], -1) > 0).all()


def test_so3_trajectories_rejects_angles_beyond_pi():
    with pytest.raises(ConfigError, match="max_angle"):
        so3_trajectories(max_angle=4.0)
