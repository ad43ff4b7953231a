"""Locate the policy bundles shipped in ``liquidcontrol/policies/pretrained/``.

Works without torch: the folder is found through the import system's spec of
``liquidcontrol.policies`` without executing that package (which needs torch).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from liquidcontrol.errors import LiquidControlError


def pretrained_dir() -> Path:
    spec = importlib.util.find_spec("liquidcontrol.policies")
    if spec is None or not spec.submodule_search_locations:
        raise LiquidControlError("liquidcontrol.policies is not installed, so no pretrained bundles are available.")
    return Path(next(iter(spec.submodule_search_locations))) / "pretrained"


def available_pretrained() -> list[str]:
    """Names of the shipped bundles (folders holding a card.json)."""
    root = pretrained_dir()
    return sorted(p.parent.name for p in root.glob("*/card.json")) if root.is_dir() else []


def pretrained(name: str) -> Path:
    """The folder of the shipped bundle ``name``, e.g. ``"parking_cfc_ncp12"``.

    ``name`` is a bare folder name: paths (separators, ``..``, absolute paths)
    are refused, so it cannot point outside the pretrained folder.
    """
    if not isinstance(name, str) or not _is_bare_name(name):
        raise LiquidControlError(
            f"pretrained bundle names are bare folder names (see available_pretrained()), not paths; got {str(name)[:60]!r}.")
    root = pretrained_dir()
    path = root / name
    if path.resolve().parent != root.resolve():  # e.g. a symlink leading elsewhere
        raise LiquidControlError(f"the pretrained bundle {name!r} does not lie inside {root}.")
    if not (path / "card.json").is_file():
        raise LiquidControlError(
            f"no pretrained bundle named {name!r}; available: {', '.join(available_pretrained()) or 'none'}.")
    return path


def _is_bare_name(name: str) -> bool:
    return (bool(name) and name not in (".", "..") and not name.startswith(".") and "/" not in name
            and "\\" not in name and "\0" not in name and ":" not in name and not os.path.isabs(name)
            and os.sep not in name and (os.altsep is None or os.altsep not in name))
