"""Policy bundles: the folder a trained policy ships in.

Layout (each file written atomically)::

    bundle/
      policy.onnx          single-step graph, card embedded in metadata_props
      weights.safetensors  torch state_dict (training side; never pickle)
      weights.npz          pre-fused float32 arrays for the numpy runtime
      card.json            PolicyCard (see liquidcontrol.runtime.card)

:func:`save_bundle` writes it from a torch policy; :func:`load_policy`
rebuilds the torch policy from ``card.json`` + ``weights.safetensors``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.export.numpy_weights import numpy_program
from liquidcontrol.export.onnx_export import export_onnx
from liquidcontrol.fileio import atomic_path, atomic_write_text
from liquidcontrol.policies.base import RecurrentPolicy
from liquidcontrol.policies.serialization import load_weights, save_weights
from liquidcontrol.runtime.card import PolicyCard, load_card

ONNX_FILE = "policy.onnx"
TORCH_FILE = "weights.safetensors"
NUMPY_FILE = "weights.npz"
CARD_FILE = "card.json"

# Card fields that describe the model: taken from the policy, not the caller.
_DERIVED = ("model_kind", "model_config", "obs_dim", "act_dim", "state_dim", "parameter_count", "control_period_s")


def card_from_policy(policy: RecurrentPolicy, **card_fields: Any) -> PolicyCard:
    """A validated card for ``policy``; ``card_fields`` add env_id, layouts, recipe, results.

    Model facts (kind, config, widths, parameter count, neuron counts, wiring
    seed, control period) are read from the policy so they cannot disagree.
    """
    clash = sorted(set(card_fields) & set(_DERIVED))
    if clash:
        raise LiquidControlError(f"card fields {clash} are read from the policy and cannot be given.")
    config = dict(policy.config())  # type: ignore[operator]
    try:
        json.dumps(config)
    except TypeError as exc:
        raise LiquidControlError(f"the {policy.kind} policy config is not JSON-serialisable ({exc}).") from None
    fields: dict[str, Any] = {
        "env_id": "unknown",
        "control_period_s": float(getattr(policy, "control_period", 0.05)),
        "neurons": _neuron_counts(config),
        "wiring_seed": _wiring_seed(config),
        **card_fields,
    }
    card = PolicyCard(
        model_kind=str(policy.kind), model_config=config,
        obs_dim=int(policy.obs_dim), act_dim=int(policy.act_dim), state_dim=int(policy.state_dim),
        parameter_count=int(policy.num_parameters()),  # type: ignore[operator]
        **fields,
    )
    card.validate("card")
    return card


def _wiring_of(config: dict[str, Any]) -> Any:
    """The NCP wiring a liquid policy was built on (rebuilt from its config), or None."""
    if config.get("wiring") != "autoncp":
        return None
    from liquidcontrol.policies.wirings import make_wiring

    return make_wiring("autoncp", int(config["units"]), int(config["act_dim"]),
                       float(config.get("sparsity", 0.5)), int(config.get("seed", 22222)))


def _neuron_counts(config: dict[str, Any]) -> dict[str, int]:
    """Neurons per NCP layer type (inter / command / motor) plus the total."""
    wiring = _wiring_of(config)
    if wiring is None:
        units = config.get("units") or config.get("hidden")
        return {"total": int(units)} if units else {}
    counts: dict[str, int] = {}
    for layer in range(wiring.num_layers):
        for neuron in wiring.get_neurons_of_layer(layer):
            kind = str(wiring.get_type_of_neuron(neuron))
            counts[kind] = counts.get(kind, 0) + 1
    counts["total"] = int(wiring.units)
    return counts


def _wiring_seed(config: dict[str, Any]) -> int | None:
    return int(config.get("seed", 22222)) if config.get("wiring") == "autoncp" else None


def save_bundle(folder: str | Path, policy: RecurrentPolicy, card_fields: dict[str, Any] | None = None,
                exporter: str = "dynamo") -> PolicyCard:
    """Write ``policy.onnx``, ``weights.safetensors``, ``weights.npz`` and ``card.json``.

    ``card_fields``: env_id, observation / action layouts, neurons,
    wiring_seed, training, evaluation (see :class:`PolicyCard`). ``card.json`` is written
    last, so a folder with a card is complete. Returns the card.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    card = card_from_policy(policy, **(card_fields or {}))
    export_onnx(policy, folder / ONNX_FILE, card, exporter=exporter)
    save_weights(policy, folder / TORCH_FILE)
    arrays = numpy_program(policy)
    with atomic_path(folder / NUMPY_FILE) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)  # type: ignore[arg-type]
    atomic_write_text(folder / CARD_FILE, card.to_json())
    return card


def load_policy(folder: str | Path) -> RecurrentPolicy:
    """Rebuild the torch policy of a bundle (registry + safetensors), in eval mode."""
    from liquidcontrol.policies.registry import policy_from_config

    folder = Path(folder)
    card = load_card(folder / CARD_FILE)
    policy = policy_from_config(card.model_kind, card.model_config)
    path = folder / TORCH_FILE
    if not path.is_file():
        raise LiquidControlError(f"the bundle has no torch weights at {path}.")
    load_weights(policy, path)
    return policy.eval()
