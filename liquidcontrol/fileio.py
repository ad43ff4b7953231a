"""Atomic file writing: a crash or Ctrl-C never leaves a half-written file.

Every file the project saves (checkpoints, bundles, demos, reports) goes
through these helpers: write to a temporary file in the same folder, flush,
fsync, then ``os.replace`` over the destination. :func:`atomic_folder` does
the same for a whole folder (policy bundles): everything is written into a
temporary sibling folder that is then renamed into place.

JSON is written strictly: NaN and infinity are refused (``allow_nan=False``),
since other JSON readers reject them.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it over ``path``.

    Use it for writers that want a file name (``np.savez``, ``torch.save``,
    ``onnx.save``). On any exception the temporary file is removed and
    ``path`` keeps its previous content.
    """
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        # mkstemp makes 0600 (and some writers recreate the file): give the usual permissions.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            tmp.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike[str], writer: Callable[[IO[bytes]], Any]) -> Path:
    """Call ``writer(fh)`` on a binary temp file, then rename it to ``path``."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            writer(fh)
    return Path(path)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    return atomic_write(path, lambda fh: fh.write(data))


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as indented strict JSON; NaN / infinity raise ``ValueError`` before anything is written."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, allow_nan=False) + "\n")


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Flush a directory entry (a rename inside it) to disk, where the OS allows it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield an empty temporary folder next to ``path``; on success it replaces ``path`` whole.

    Write every file into the yielded folder. On success its files are
    fsynced, then the previous ``path`` (if any) is renamed aside, the new
    folder renamed to ``path`` and the old one deleted. On any exception the
    temporary folder is removed and ``path`` is untouched. Only a crash in
    the instant between the two renames leaves no ``path``; the previous
    content then survives as the sibling ``.<name>.*.old`` folder.
    """
    dest = Path(path).absolute()
    parent = dest.parent
    parent.mkdir(parents=True, exist_ok=True)
    if dest.exists() and not dest.is_dir():
        raise NotADirectoryError(f"{dest} exists and is not a folder")
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=parent))
    try:
        yield tmp
        mode = 0o777 & ~_umask()
        for item in tmp.rglob("*"):
            if item.is_file():
                with open(item, "rb+") as fh:
                    os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        fsync_dir(tmp)
        _swap_in(tmp, dest)
        fsync_dir(parent)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _swap_in(new: Path, dest: Path) -> None:
    """Rename ``new`` to ``dest``; a previous ``dest`` is moved aside first and deleted after."""
    if not dest.exists():
        os.rename(new, dest)
        return
    with contextlib.suppress(OSError):
        os.rmdir(dest)  # an empty folder is simply replaced
    if not dest.exists():
        os.rename(new, dest)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".old", dir=dest.parent))
    os.rmdir(old)  # a unique free name for the previous folder
    os.rename(dest, old)
    try:
        os.rename(new, dest)
    except BaseException:
        os.rename(old, dest)  # put the previous folder back
        raise
    shutil.rmtree(old, ignore_errors=True)
