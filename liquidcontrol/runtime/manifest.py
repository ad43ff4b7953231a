"""``manifest.json``: the sha256 of every file of a bundle (standard library only).

Written last by :func:`liquidcontrol.export.save_bundle`; the runtime checks
each file it reads against it, so a bundle copied half-way, edited by hand
or hit by a bit flip gives one clear error instead of odd actions::

    {"format_version": 1, "algorithm": "sha256",
     "files": {"card.json": "<64 hex digits>", "policy.onnx": "...", ...}}

Bundles without a manifest (such as those written before it existed) still
load; their files are then only checked by their own parsers.
"""

from __future__ import annotations

import hashlib
import json
import os
import string
from collections.abc import Iterable
from pathlib import Path

from liquidcontrol.errors import LiquidControlError

MANIFEST_FILE = "manifest.json"
MANIFEST_VERSION = 1
_HEX = set(string.hexdigits.lower())


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest_text(files: dict[str, bytes]) -> str:
    """The manifest JSON for ``{file name: content}``."""
    digests = {name: sha256_hex(data) for name, data in sorted(files.items())}
    return json.dumps({"format_version": MANIFEST_VERSION, "algorithm": "sha256", "files": digests},
                      indent=2, allow_nan=False) + "\n"


def write_manifest(folder: str | os.PathLike[str], names: Iterable[str] | None = None) -> Path:
    """(Re)write ``folder/manifest.json`` from the files now in ``folder``
    (``names``, default every regular file but the manifest). For tools that
    edit a bundle on purpose; :func:`liquidcontrol.export.save_bundle` writes it itself."""
    from liquidcontrol.fileio import atomic_write_text

    root = Path(folder)
    if names is None:
        names = sorted(p.name for p in root.iterdir() if p.is_file() and p.name != MANIFEST_FILE
                       and not p.name.startswith("."))
    files = {name: (root / name).read_bytes() for name in names}
    return atomic_write_text(root / MANIFEST_FILE, manifest_text(files))


def read_manifest(folder: str | os.PathLike[str]) -> dict[str, str] | None:
    """``{file name: sha256}`` from ``folder/manifest.json``, or None if there is none."""
    path = Path(folder) / MANIFEST_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        raise LiquidControlError(f"the bundle manifest {path} is corrupt; the bundle is incomplete or modified.") from None
    files = data.get("files") if isinstance(data, dict) else None
    ok = (isinstance(data, dict) and data.get("format_version") == MANIFEST_VERSION
          and data.get("algorithm") == "sha256" and isinstance(files, dict)
          and all(_plain_name(k) and isinstance(v, str) and len(v) == 64 and set(v) <= _HEX
                  for k, v in files.items()))
    if not ok:
        raise LiquidControlError(
            f"the bundle manifest {path} is not a liquidcontrol version {MANIFEST_VERSION} manifest; "
            "the bundle is incomplete or modified.")
    return dict(files)  # type: ignore[arg-type]


def read_verified(folder: str | os.PathLike[str], name: str, manifest: dict[str, str] | None,
                  missing: str | None = None) -> bytes:
    """The bytes of ``folder/name``, checked against ``manifest`` when there is one.

    ``missing``: the error text if the file does not exist and the manifest
    does not list it (default: a generic one naming the file).
    """
    path = Path(folder) / name
    if manifest is not None and name not in manifest:
        raise LiquidControlError(
            f"the bundle {folder} is incomplete or modified: its manifest.json does not list {name}.")
    if not path.is_file():
        if manifest is not None:
            raise LiquidControlError(
                f"the bundle {folder} is incomplete: {name} is listed in manifest.json but missing.")
        raise LiquidControlError(missing or f"the bundle has no {name} at {path}.")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LiquidControlError(f"cannot read {path} ({exc.strerror or type(exc).__name__}).") from None
    if manifest is not None and sha256_hex(data) != manifest[name]:
        raise LiquidControlError(
            f"the bundle {folder} is incomplete or modified: {name} does not match its sha256 in "
            "manifest.json (re-export the bundle or restore the file).")
    return data


def _plain_name(name: object) -> bool:
    return (isinstance(name, str) and bool(name) and name not in (".", "..")
            and "/" not in name and "\\" not in name and "\0" not in name)
