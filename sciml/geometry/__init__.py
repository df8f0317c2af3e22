"""Geometry shared by data generators and models: Lie-group maps of rotations (``so3``)."""

from sciml.geometry.so3 import SO3, hat, matrix_to_quat, quat_to_matrix, right_jacobian, so3_exp, so3_log, vee

__all__ = ["SO3", "hat", "vee", "so3_exp", "so3_log", "right_jacobian", "quat_to_matrix", "matrix_to_quat"]
