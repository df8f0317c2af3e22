"""Bad input raises a sciml error whose message names the problem."""

import h5py
import numpy as np
import pytest
import torch
import xarray as xr

from sciml.core.errors import DataFormatError, GridError, InvalidValueError, SciMLError, ShapeError
from sciml.fields.field import Field
from sciml.fields.grid import Grid
from sciml.fields.hdf5 import list_groups, open_file, read_field, write_fields
from sciml.fields.readers import read_neuralop_pt, read_pdebench, read_the_well

G = Grid.uniform((4, 5))


def test_wrong_number_of_dimensions():
    with pytest.raises(ShapeError, match=r"must have 4 dimensions.*got 3 dimensions"):
        Field(np.zeros((1, 4, 5)), G)


def test_grid_values_shape_mismatch():
    with pytest.raises(ShapeError, match=r"spatial shape \(5, 4\) does not match the grid shape \(4, 5\)"):
        Field(np.zeros((1, 1, 5, 4)), G)


def test_nan_and_inf_in_values():
    v = np.zeros((2, 2, 4, 5))
    v[1, 1, 2, 3] = np.nan
    with pytest.raises(InvalidValueError, match=r"1 NaN/Inf entries \(first at index \(1, 1, 2, 3\), variable 'b'\)"):
        Field(v, G, variables=["a", "b"])
    v[1, 1, 2, 3] = np.inf
    mask = np.ones((4, 5), bool)
    mask[0, 0] = False  # masking a different point does not excuse the Inf
    with pytest.raises(InvalidValueError, match="inside the mask"):
        Field(v, G, mask=mask)


def test_metadata_errors():
    v = np.zeros((2, 2, 4, 5))
    with pytest.raises(ShapeError, match=r"variables has 3 entries \['a', 'b', 'c'\] but the values have 2 channels"):
        Field(v, G, variables=["a", "b", "c"])
    with pytest.raises(DataFormatError, match=r"duplicate variable names \['u'\]"):
        Field(v, G, variables=["u", "u"])
    with pytest.raises(ShapeError, match=r"units has 1 entries"):
        Field(v, G, units=["m"])
    with pytest.raises(ShapeError, match=r"mask has shape \(5, 4\); expected \(4, 5\)"):
        Field(v, G, mask=np.ones((5, 4), bool))
    with pytest.raises(InvalidValueError, match="mask must be boolean"):
        Field(v, G, mask=np.ones((4, 5)))
    with pytest.raises(ShapeError, match=r"time must have shape \(batch,\)=\(2,\)"):
        Field(v, G, time=[0.0, 1.0, 2.0])
    with pytest.raises(DataFormatError, match=r"attrs\['fn'\] is not JSON-serialisable"):
        Field(v, G, attrs={"fn": print})
    with pytest.raises(GridError, match="grid must be a sciml Grid"):
        Field(v, (4, 5))


def test_non_monotonic_coordinates():
    with pytest.raises(GridError, match="coordinate of axis 1 is not strictly increasing"):
        Grid([np.arange(3.0), np.array([0.0, 2.0, 1.0])])
    da = xr.DataArray(np.zeros((1, 3, 2)), dims=["batch", "depth", "x"], coords={"depth": [0.0, 5.0, 5.0]})
    with pytest.raises(GridError, match="coordinate 'depth' is not strictly increasing"):
        Field.from_xarray(da)


def sciml_file(path):
    write_fields(path, {"input": Field(np.zeros((1, 1, 4, 5)), G), "output": Field(np.ones((1, 1, 4, 5)), G)})
    return path


def test_missing_file_and_groups(tmp_path):
    with pytest.raises(DataFormatError, match=r"HDF5 file not found: .*nope\.h5"):
        read_field(tmp_path / "nope.h5")
    path = sciml_file(tmp_path / "d.h5")
    with pytest.raises(DataFormatError, match=r"has no group 'target'; available groups: \['input', 'output'\]"):
        read_field(path, "target")


def test_missing_dataset_or_attribute_in_group(tmp_path):
    path = sciml_file(tmp_path / "d.h5")
    with h5py.File(path, "a") as f:
        del f["input/grid/coord_1"]
        del f["output/values"]
    with pytest.raises(DataFormatError, match=r"missing dataset 'coord_1' in group '/input/grid'"):
        read_field(path, "input")
    with pytest.raises(DataFormatError, match=r"missing dataset 'values'"):
        read_field(path, "output")
    sciml_file(path)
    with h5py.File(path, "a") as f:
        del f["input"].attrs["variables"]
    with pytest.raises(DataFormatError, match=r"missing attribute 'variables'"):
        read_field(path, "input")


def test_not_a_sciml_or_hdf5_file(tmp_path):
    txt = tmp_path / "notes.h5"
    txt.write_text("this is not HDF5\n" * 100)
    for reader in (read_field, list_groups, read_pdebench, read_the_well):
        with pytest.raises(DataFormatError, match=r"notes\.h5: not an HDF5 file"):
            reader(txt)
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(DataFormatError, match=r"foreign\.h5 is not a sciml HDF5 file"):
        read_field(foreign)
    with pytest.raises(DataFormatError, match=r"not a Well file, missing group 'dimensions'"):
        read_the_well(foreign)


def test_truncated_hdf5_file(tmp_path):
    path = sciml_file(tmp_path / "full.h5")
    data = path.read_bytes()
    cut = tmp_path / "cut.h5"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFormatError, match=r"cut\.h5.*truncated"):
        read_field(cut, "input")
    with pytest.raises(DataFormatError, match=r"cut\.h5"):
        with open_file(cut) as f:
            f["input/values"][()]


def test_bad_torch_files(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00garbage")
    with pytest.raises(DataFormatError, match=r"cannot load .*bad\.pt"):
        read_neuralop_pt(bad)
    torch.save([torch.zeros(2)], tmp_path / "list.pt")
    with pytest.raises(DataFormatError, match="expected a dict of tensors, got list"):
        read_neuralop_pt(tmp_path / "list.pt")
    torch.save({"x": torch.zeros(2, 3), "y": torch.zeros(2, 3)}, tmp_path / "flat.pt")
    with pytest.raises(ShapeError, match=r"'x' has shape \(2, 3\)"):
        read_neuralop_pt(tmp_path / "flat.pt")


def test_bfloat16_cannot_be_written(tmp_path):
    f = Field(torch.zeros(1, 1, 4, 5, dtype=torch.bfloat16), G)
    with pytest.raises(DataFormatError, match="bfloat16"):
        write_fields(tmp_path / "b.h5", {"f": f})
    assert not (tmp_path / "b.h5").exists()


def test_all_errors_derive_from_sciml_error():
    for exc in (ShapeError, GridError, InvalidValueError, DataFormatError):
        assert issubclass(exc, SciMLError)
