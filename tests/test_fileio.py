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


def test_json_is_written_strictly(tmp_path):
    path = tmp_path / "s.json"
    atomic_write_json(path, {"v": 1})
    for bad in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(ValueError):
            atomic_write_json(path, {"v": bad})
    assert path.read_text().strip() == '{\n  "v": 1\n}'
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]


def test_atomic_folder_replaces_the_folder_whole(tmp_path):
    from liquidcontrol.fileio import atomic_folder

    dest = tmp_path / "bundle"
    with atomic_folder(dest) as tmp:
        (tmp / "a").write_text("1")
        (tmp / "b").write_text("1")
    with atomic_folder(dest) as tmp:
        (tmp / "a").write_text("2")
    assert sorted(p.name for p in dest.iterdir()) == ["a"] and (dest / "a").read_text() == "2"
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]


def test_atomic_folder_failure_keeps_the_old_folder(tmp_path):
    from liquidcontrol.fileio import atomic_folder

    dest = tmp_path / "bundle"
    with atomic_folder(dest) as tmp:
        (tmp / "a").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_folder(dest) as tmp:
            (tmp / "a").write_text("new")
            raise RuntimeError("killed")
    assert (dest / "a").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]


def test_atomic_folder_replaces_an_empty_folder(tmp_path):
    from liquidcontrol.fileio import atomic_folder

    with atomic_folder(tmp_path) as tmp:
        (tmp / "x").write_text("1")
    assert (tmp_path / "x").read_text() == "1"
