"""Policy weights on disk: safetensors only (no pickle), written atomically.

Shared by training checkpoints and policy bundles so both load and fail the
same way: a missing, corrupt or mismatched file is one clear sentence.
"""

from __future__ import annotations

from pathlib import Path

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.fileio import atomic_path

from .base import RecurrentPolicy


def save_weights(policy: RecurrentPolicy, path: str | Path) -> Path:
    """Write ``policy.state_dict()`` to ``path`` (safetensors, atomic)."""
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in policy.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp))
    return Path(path)


def load_weights(policy: RecurrentPolicy, path: str | Path) -> RecurrentPolicy:
    """Load safetensors weights from ``path`` into ``policy`` (in place) and return it."""
    path = Path(path)
    if not path.is_file():
        raise LiquidControlError(f"weights file {path} does not exist.")
    try:
        tensors = load_file(str(path))
    except (OSError, SafetensorError) as exc:
        raise LiquidControlError(f"cannot read weights {path} ({exc}).") from None
    try:
        policy.load_state_dict(tensors)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise LiquidControlError(f"weights {path} do not fit a {policy.kind} policy ({first}).") from None
    return policy
