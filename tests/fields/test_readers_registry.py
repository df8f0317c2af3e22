"""One Registry for readers, with the same verbs as models, generators and tasks."""

from __future__ import annotations

import pytest
import torch

from sciml.core.errors import ConfigError
from sciml.fields import Field, Grid
from sciml.fields.hdf5 import read_field, write_fields
from sciml.fields.readers import READERS, read


def test_the_reader_registry_reads_like_the_direct_calls(tmp_path):
    grid = Grid.uniform((8, 6), periodic=True)
    f = Field(torch.randn(2, 1, 8, 6), grid, variables=["u"])
    write_fields(tmp_path / "a.h5", {"u": f})
    assert {"sciml", "pdebench", "the_well", "neuralop_pt", "xarray"} <= set(READERS.available())
    via = read("sciml", tmp_path / "a.h5", group="u")
    assert torch.equal(via.values, read_field(tmp_path / "a.h5", group="u").values)
    f.to_xarray().to_dataset(dim="variable").to_netcdf(tmp_path / "a.nc", engine="h5netcdf")
    x = read("xarray", tmp_path / "a.nc", batch_dim="batch")
    assert list(x.variables) == ["u"] and x.grid.shape == (8, 6)
    assert torch.allclose(torch.as_tensor(x.values).float(), f.values)
    with pytest.raises(ConfigError, match="unknown reader 'csv'; available: .*neuralop_pt"):
        read("csv", tmp_path / "a.h5")
    with pytest.raises(ConfigError, match="unknown key.*'grop'.*allowed keys: group, index, path"):
        read("sciml", tmp_path / "a.h5", grop="u")


def test_netcdf3_files_read_on_every_path_without_netcdf4(tmp_path):
    """NETCDF3 files (classic format) are read with scipy, a dependency; netCDF4-python is not needed."""
    import numpy as np
    import xarray as xr

    from sciml.fields.datasets import OperatorDataset

    values = np.random.default_rng(0).random((3, 8, 8))
    ds = xr.Dataset({"u": (("sample", "x", "y"), values)}, coords={"x": np.arange(8) / 8, "y": np.arange(8) / 8})
    path = tmp_path / "classic.nc"
    ds.to_netcdf(path, format="NETCDF3_64BIT", engine="scipy")
    assert path.read_bytes()[:3] == b"CDF"  # a netCDF3 file, not HDF5
    f = read("xarray", path, batch_dim="sample")
    np.testing.assert_allclose(f.values[:, 0].numpy(), values)
    item = OperatorDataset(path, input="u", output="u")[1][0]
    np.testing.assert_allclose(item[0].numpy(), values[1], rtol=1e-6)
