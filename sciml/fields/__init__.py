"""Discretization-agnostic data: grids, point clouds, fields, file formats and lazy datasets."""

from sciml.fields.field import Field
from sciml.fields.grid import Grid, PointCloud

__all__ = ["Field", "Grid", "PointCloud"]
