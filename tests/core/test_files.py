"""atomic_path: all-or-nothing writes with ordinary file permissions."""

import os
import stat

import pytest

from sciml.core.files import atomic_path


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "f.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["f.txt"]


def test_new_files_get_umask_permissions_and_replacements_keep_them(tmp_path):
    old = os.umask(0o022)
    try:
        target = tmp_path / "g.txt"
        with atomic_path(target) as tmp:
            tmp.write_text("x")
        assert stat.S_IMODE(target.stat().st_mode) == 0o644
        os.chmod(target, 0o640)
        with atomic_path(target) as tmp:
            tmp.write_text("y")
        assert stat.S_IMODE(target.stat().st_mode) == 0o640 and target.read_text() == "y"
    finally:
        os.umask(old)
