"""Training checkpoints: weights in safetensors, optimizer state loaded with
``weights_only=True``, progress in JSON; each file written atomically.

A checkpoint folder holds:

- ``policy.safetensors`` — the policy's ``state_dict``;
- ``optimizer.pt`` — optimizer ``state_dict`` (tensors and plain numbers only,
  so ``torch.load(..., weights_only=True)`` reads it without unpickling code);
- ``progress.json`` — model kind and config, where training stopped, metrics.

``progress.json`` is written last, so a folder whose progress file exists is
complete: a kill between files leaves the previous checkpoint readable.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.fileio import atomic_path, atomic_write_json
from liquidcontrol.policies.base import RecurrentPolicy
from liquidcontrol.policies.registry import policy_from_config
from liquidcontrol.policies.serialization import load_weights, save_weights

POLICY_FILE = "policy.safetensors"
OPTIMIZER_FILE = "optimizer.pt"
PROGRESS_FILE = "progress.json"


def save_checkpoint(
    folder: str | Path,
    policy: RecurrentPolicy,
    progress: dict[str, Any],
    optimizer: torch.optim.Optimizer | None = None,
) -> Path:
    """Write policy weights, optimizer state and ``progress`` into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_weights(policy, folder / POLICY_FILE)
    if optimizer is not None:
        with atomic_path(folder / OPTIMIZER_FILE) as tmp:
            torch.save(optimizer.state_dict(), tmp)
    record = {"kind": policy.kind, "config": policy.config(), **progress}
    atomic_write_json(folder / PROGRESS_FILE, record)
    return folder


def read_progress(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / PROGRESS_FILE
    if not path.is_file():
        raise LiquidControlError(f"{folder} is not a checkpoint folder: {PROGRESS_FILE} is missing.")
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise LiquidControlError(f"{path} is corrupt ({exc}).") from None
    if not isinstance(record, dict) or "kind" not in record or "config" not in record:
        raise LiquidControlError(f"{path} lacks the model kind and config; it is not a liquidcontrol checkpoint.")
    return record


def load_checkpoint(
    folder: str | Path, optimizer_factory: Any = None
) -> tuple[RecurrentPolicy, dict[str, Any], torch.optim.Optimizer | None]:
    """Rebuild the policy (and optionally its optimizer) from ``folder``.

    ``optimizer_factory(params)`` builds the optimizer to restore into.
    """
    folder = Path(folder)
    record = read_progress(folder)
    policy = policy_from_config(record["kind"], record["config"])
    load_weights(policy, folder / POLICY_FILE)
    optimizer = None
    if optimizer_factory is not None:
        optimizer = optimizer_factory(policy.parameters())
        opt_path = folder / OPTIMIZER_FILE
        if opt_path.is_file():
            try:
                optimizer.load_state_dict(torch.load(opt_path, weights_only=True))
            except Exception as exc:  # noqa: BLE001 - any corruption is the same user problem
                raise LiquidControlError(f"optimizer state {opt_path} is corrupt ({exc}).") from None
    return policy, record, optimizer
