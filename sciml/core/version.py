"""The package version (one place: the checkpoint, HDF5 provenance and pyproject read it)."""

__version__ = "0.1.0"
