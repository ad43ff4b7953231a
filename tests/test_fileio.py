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
