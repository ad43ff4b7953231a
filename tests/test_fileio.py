"""Atomic writes: an exception mid-write leaves the old file untouched."""

from __future__ import annotations

import pytest

from liquidcontrol.fileio import atomic_path, atomic_write_json, atomic_write_text


def test_atomic_write_replaces_content(tmp_path):
    path = tmp_path / "a.txt"
    atomic_write_text(path, "one")
    atomic_write_text(path, "two")
    assert path.read_text() == "two"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]  # no temp files left


def test_exception_mid_write_keeps_old_file(tmp_path):
    path = tmp_path / "b.json"
    atomic_write_json(path, {"v": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(path) as tmp:
            tmp.write_text("partial")
            raise RuntimeError("killed")
    assert path.read_text().strip().startswith("{") and '"v": 1' in path.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["b.json"]


def test_saved_files_get_normal_permissions(tmp_path):
    import os
    import stat

    path = atomic_write_text(tmp_path / "c.txt", "x")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask


def test_writers_that_recreate_the_file_still_get_normal_permissions(tmp_path):
    import os
    import stat

    with atomic_path(tmp_path / "d.bin") as tmp:
        tmp.unlink()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, b"x")
        os.close(fd)
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE((tmp_path / "d.bin").stat().st_mode) == 0o666 & ~mask
