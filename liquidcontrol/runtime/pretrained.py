"""Locate the policy bundles shipped in ``liquidcontrol/policies/pretrained/``.

Works without torch: the folder is found through the import system's spec of
``liquidcontrol.policies`` without executing that package (which needs torch).
"""

from __future__ import annotations

import importlib.util
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
    """The folder of the shipped bundle ``name``, e.g. ``"parking_cfc_ncp12"``."""
    path = pretrained_dir() / name
    if not (path / "card.json").is_file():
        raise LiquidControlError(
            f"no pretrained bundle named {name!r}; available: {', '.join(available_pretrained()) or 'none'}.")
    return path
