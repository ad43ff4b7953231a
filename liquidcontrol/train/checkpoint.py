"""Training checkpoints: weights and optimizer tensors in safetensors, the rest in JSON.

A checkpoint folder holds:

- ``policy.safetensors`` — the policy's ``state_dict``;
- ``optimizer.safetensors`` + ``optimizer.json`` — the optimizer's
  ``state_dict``: its tensors (``state.<param>.<name>``) and its plain values
  (hyper-parameters, parameter groups); nothing is pickled;
- ``progress.json`` — model kind and config, where training stopped, metrics.

The folder is written as a whole (a temporary folder swapped in with
renames), so a kill never pairs new weights with old progress. Checkpoints
of earlier versions with ``optimizer.pt`` still load, with
``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.fileio import atomic_folder
from liquidcontrol.policies.base import RecurrentPolicy
from liquidcontrol.policies.registry import policy_from_config
from liquidcontrol.policies.serialization import load_weights, save_weights

POLICY_FILE = "policy.safetensors"
OPTIMIZER_TENSORS = "optimizer.safetensors"
OPTIMIZER_VALUES = "optimizer.json"
LEGACY_OPTIMIZER_FILE = "optimizer.pt"
PROGRESS_FILE = "progress.json"


def save_checkpoint(
    folder: str | Path,
    policy: RecurrentPolicy,
    progress: dict[str, Any],
    optimizer: torch.optim.Optimizer | None = None,
) -> Path:
    """Write policy weights, optimizer state and ``progress`` into ``folder``, as a whole."""
    folder = Path(folder)
    record = {"kind": policy.kind, "config": policy.config(), **progress}
    text = json.dumps(record, indent=2, allow_nan=False) + "\n"  # fails before anything is written
    with atomic_folder(folder) as tmp:
        save_weights(policy, tmp / POLICY_FILE)
        if optimizer is not None:
            tensors, values = split_optimizer_state(optimizer.state_dict())
            save_file(tensors, str(tmp / OPTIMIZER_TENSORS))
            (tmp / OPTIMIZER_VALUES).write_text(json.dumps(values, allow_nan=False), encoding="utf-8")
        (tmp / PROGRESS_FILE).write_text(text, encoding="utf-8")
    return folder


def split_optimizer_state(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors of an optimizer ``state_dict`` (for safetensors) and everything else (for JSON)."""
    tensors: dict[str, torch.Tensor] = {}
    per_param: dict[str, dict[str, Any]] = {}
    for idx, entries in state["state"].items():
        plain = per_param.setdefault(str(idx), {})
        for name, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"state.{idx}.{name}"] = value.detach().cpu().contiguous().clone()
            else:
                plain[name] = value
    return tensors, {"state": per_param, "param_groups": state["param_groups"]}


def join_optimizer_state(tensors: dict[str, torch.Tensor], values: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {int(k): dict(v) for k, v in values["state"].items()}
    for key, tensor in tensors.items():
        _, idx, name = key.split(".", 2)
        state.setdefault(int(idx), {})[name] = tensor
    return {"state": state, "param_groups": values["param_groups"]}


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
        state = _read_optimizer_state(folder)
        if state is not None:
            try:
                optimizer.load_state_dict(state)
            except Exception as exc:  # noqa: BLE001 - any mismatch is the same user problem
                raise LiquidControlError(f"the optimizer state in {folder} does not fit this policy ({exc}).") from None
    return policy, record, optimizer


def _read_optimizer_state(folder: Path) -> dict[str, Any] | None:
    tensors_path, values_path = folder / OPTIMIZER_TENSORS, folder / OPTIMIZER_VALUES
    if tensors_path.is_file() and values_path.is_file():
        try:
            values = json.loads(values_path.read_text(encoding="utf-8"))
            return join_optimizer_state(load_file(str(tensors_path)), values)
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError,
                SafetensorError) as exc:
            raise LiquidControlError(f"optimizer state in {folder} is corrupt ({exc}).") from None
    legacy = folder / LEGACY_OPTIMIZER_FILE
    if legacy.is_file():
        try:
            return torch.load(legacy, weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any corruption is the same user problem
            raise LiquidControlError(f"optimizer state {legacy} is corrupt ({exc}).") from None
    return None
