"""Array-level storage behind the lazy datasets: one reader interface, one module per backend.

* ``base``: the ``ItemSource`` interface every backend implements (metadata read once, one item read per
  call), the per-process lazy file handle, and the resolution plan (strided reads, then resampling);
* ``hdf5``: sciml's HDF5 schema at the array level (format checks, grids, group read/write) and the lazy
  reader of one group of one file or of a directory of shards;
* ``xarray``: the lazy reader of data variables of an xarray Dataset, zarr store or netCDF file, using the
  grid rule of ``sciml.fields.xarray_io``.

Nothing here builds a ``Field``: ``sciml.fields.field`` and ``sciml.fields.datasets`` sit on top.
"""
