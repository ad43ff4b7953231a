"""Policy bundles: the folder a trained policy ships in.

Layout::

    bundle/
      policy.onnx          single-step graph, card embedded in metadata_props
      weights.safetensors  torch state_dict (training side; never pickle)
      weights.npz          pre-fused float64 arrays for the numpy runtime (vector inputs only)
      card.json            PolicyCard (see liquidcontrol.runtime.card)
      manifest.json        sha256 of every other file (liquidcontrol.runtime.manifest)

A bundle is written as a whole: :func:`save_bundle` and
:func:`update_bundle_card` write every file into a temporary sibling folder
and rename it into place (:func:`liquidcontrol.fileio.atomic_folder`), so a
crash or an error leaves the previous bundle intact. :func:`load_policy`
rebuilds the torch policy from ``card.json`` + ``weights.safetensors``; the
runtime (:class:`liquidcontrol.runtime.PolicyRunner`) checks the manifest.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.export.numpy_builder import numpy_exportable
from liquidcontrol.export.numpy_weights import numpy_program
from liquidcontrol.export.onnx_export import embed_card, export_onnx
from liquidcontrol.fileio import atomic_folder
from liquidcontrol.policies.base import RecurrentPolicy
from liquidcontrol.policies.serialization import load_weights, save_weights
from liquidcontrol.runtime.card import (
    IMAGE_DTYPE,
    IMAGE_LAYOUT,
    VECTOR_DTYPE,
    PolicyCard,
    card_from_bytes,
)
from liquidcontrol.runtime.manifest import (
    MANIFEST_FILE,
    manifest_text,
    read_manifest,
    read_verified,
)

ONNX_FILE = "policy.onnx"
TORCH_FILE = "weights.safetensors"
NUMPY_FILE = "weights.npz"
CARD_FILE = "card.json"
BUNDLE_FILES = (ONNX_FILE, TORCH_FILE, NUMPY_FILE, CARD_FILE, MANIFEST_FILE)

# Card fields that describe the model: taken from the policy, not the caller.
_DERIVED = ("model_kind", "model_config", "obs_dim", "act_dim", "state_dim", "parameter_count",
            "trainable_parameter_count", "control_period_s", "inputs", "onnx_inputs", "onnx_outputs",
            "format_version")
# Card fields the caller may give.
_GIVEN = ("env_id", "task", "observation", "action", "neurons", "wiring_seed", "training", "evaluation")


def card_from_policy(policy: RecurrentPolicy, **card_fields: Any) -> PolicyCard:
    """A validated (format_version 2) card for ``policy``.

    ``card_fields``: ``env_id``, ``task``, ``observation`` (the layout: a list
    for the single vector input, or ``{key: layout}`` for a Dict observation;
    missing layouts get placeholder names), ``action`` (entries with name,
    unit, scale and optionally the env's ``low`` / ``high``), ``training``,
    ``evaluation`` (and ``neurons`` / ``wiring_seed`` overrides).

    Model facts (kind, config, inputs from ``policy.input_spec()``, widths,
    parameter counts, neuron counts, wiring seed, control period) are read
    from the policy so they cannot disagree.
    """
    clash = sorted(set(card_fields) & set(_DERIVED))
    if clash:
        raise LiquidControlError(f"card fields {clash} are read from the policy and cannot be given.")
    unknown = sorted(set(card_fields) - set(_GIVEN))
    if unknown:
        raise LiquidControlError(f"unknown card fields {unknown}; the caller may give {', '.join(_GIVEN)}.")
    config = dict(policy.config())  # type: ignore[operator]
    try:
        json.dumps(config, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise LiquidControlError(f"the {policy.kind} policy config is not JSON-serialisable ({exc}).") from None
    fields: dict[str, Any] = {
        "env_id": "unknown",
        "neurons": _neuron_counts(config),
        "wiring_seed": _wiring_seed(config),
        **card_fields,
    }
    inputs = _inputs_with_layouts(policy, fields.pop("observation", None))
    action = fields.pop("action", None)
    card = PolicyCard(
        model_kind=str(policy.kind), model_config=config, inputs=inputs,
        act_dim=int(policy.act_dim), state_dim=int(policy.state_dim),
        control_period_s=float(getattr(policy, "control_period", 0.05)),
        parameter_count=int(policy.num_parameters()),  # type: ignore[operator]
        trainable_parameter_count=_trainable_count(policy),
        action=[_action_entry(e) for e in action] if isinstance(action, list) else (action or []),
        **fields,
    )
    card.validate("card")
    return card


def _action_entry(entry: Any) -> Any:
    """A copy of a caller's action entry; an infinite bound (an unbounded Box) is recorded as null."""
    if not isinstance(entry, dict):
        return entry
    out = dict(entry)
    for key in ("low", "high"):
        value = out.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isinf(value):
            out[key] = None
    return out


def _trainable_count(policy: Any) -> int:
    """``num_parameters(effective=True)`` (masked-out NCP synapses excluded) where supported."""
    count = policy.num_parameters
    try:
        accepts = "effective" in inspect.signature(count).parameters
    except (TypeError, ValueError):
        accepts = False
    return int(count(effective=True) if accepts else count())


def _policy_inputs(policy: Any) -> list[dict[str, Any]]:
    spec = policy.input_spec() if hasattr(policy, "input_spec") else [
        {"name": "obs", "key": None, "dtype": VECTOR_DTYPE, "shape": [int(policy.obs_dim)]}]
    if not isinstance(spec, list) or not all(isinstance(s, dict) for s in spec):
        raise LiquidControlError(f"the {policy.kind} policy's input_spec() must be a list of objects.")
    return [{"name": s.get("name"), "key": s.get("key"), "dtype": s.get("dtype"),
             "shape": [int(v) for v in s.get("shape", [])]} for s in spec]


def _inputs_with_layouts(policy: Any, observation: Any) -> list[dict[str, Any]]:
    """The policy's inputs, each with its layout from ``observation`` (or a placeholder)."""
    inputs = _policy_inputs(policy)
    vectors = [i for i in inputs if i["dtype"] == VECTOR_DTYPE]
    keyed = any(i["key"] is not None for i in inputs)
    given: dict[Any, Any] = {}
    if isinstance(observation, list):
        if len(vectors) != 1:
            raise LiquidControlError(
                f"the observation layout is a list but the policy has {len(vectors)} vector inputs; "
                "give a dict {key: layout}.")
        given = {vectors[0]["key"]: observation}
    elif isinstance(observation, dict):
        if not keyed:
            raise LiquidControlError("the observation layout is a dict but the policy takes one vector 'obs'; give a list.")
        unknown = sorted(map(str, set(observation) - {i["key"] for i in inputs}))
        if unknown:
            raise LiquidControlError(f"the observation layout names keys {unknown} that the policy has no input for.")
        given = dict(observation)
    elif observation is not None:
        raise LiquidControlError(f"the observation layout must be a list or a dict, got {type(observation).__name__}.")
    out = []
    for inp in inputs:
        layout = given.get(inp["key"])
        if inp["dtype"] == IMAGE_DTYPE:
            layout = dict(layout) if isinstance(layout, dict) else dict(IMAGE_LAYOUT)
        elif layout is None:
            stem = "obs" if inp["key"] is None else str(inp["key"])
            layout = [{"name": f"{stem}_{i}", "unit": ""} for i in range(inp["shape"][0] if inp["shape"] else 0)]
        elif isinstance(layout, list):
            layout = [dict(e) if isinstance(e, dict) else e for e in layout]
        out.append({**inp, "layout": layout})
    return out


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


# -- writing ------------------------------------------------------------------
def _check_replaceable(folder: Path) -> None:
    """Refuse to replace a folder holding anything but bundle files (it would be deleted)."""
    if not folder.exists():
        return
    if not folder.is_dir():
        raise LiquidControlError(f"cannot write a policy bundle to {folder}: it exists and is not a folder.")
    foreign = sorted(p.name for p in folder.iterdir() if p.name not in BUNDLE_FILES)
    if foreign:
        shown = ", ".join(foreign[:5]) + (" ..." if len(foreign) > 5 else "")
        raise LiquidControlError(
            f"{folder} holds files that are not part of a policy bundle ({shown}); a bundle replaces its "
            "folder whole, so choose an empty or new folder.")


def _finish(tmp: Path) -> None:
    """Write ``manifest.json`` (sha256 of every file written into ``tmp``)."""
    files = {p.name: p.read_bytes() for p in sorted(tmp.iterdir()) if p.is_file() and p.name != MANIFEST_FILE}
    (tmp / MANIFEST_FILE).write_text(manifest_text(files), encoding="utf-8")


def save_bundle(folder: str | Path, policy: RecurrentPolicy, card_fields: dict[str, Any] | None = None,
                exporter: str = "dynamo", precision: str = "fp32") -> PolicyCard:
    """Write ``policy.onnx``, ``weights.safetensors``, ``weights.npz``, ``card.json`` and
    ``manifest.json`` into ``folder``, as a whole.

    ``card_fields``: see :func:`card_from_policy`. Everything is written into
    a temporary sibling folder that then replaces ``folder`` (the previous
    bundle is deleted only once the new one is in place; on any error it is
    left untouched). ``folder`` must be new, empty or a bundle. Returns the card.
    ``precision`` "fp16" / "int8" writes ``policy.onnx`` in that number format
    (:mod:`liquidcontrol.export.precision`; the card says which); the torch and
    numpy weights stay float32.
    """
    from liquidcontrol.export.precision import convert_onnx_file

    folder = Path(folder)
    card = card_from_policy(policy, **(card_fields or {}))
    card.onnx_precision = precision
    card.validate()
    _check_replaceable(folder)
    try:
        with atomic_folder(folder) as tmp:
            export_onnx(policy, tmp / ONNX_FILE, card, exporter=exporter)
            convert_onnx_file(tmp / ONNX_FILE, precision)
            save_weights(policy, tmp / TORCH_FILE)
            if numpy_exportable(policy):  # image inputs: onnxruntime only, no weights.npz
                _write_npz(tmp / NUMPY_FILE, numpy_program(policy))
            (tmp / CARD_FILE).write_text(card.to_json(), encoding="utf-8")
            _finish(tmp)
    except OSError as exc:
        raise LiquidControlError(f"cannot write the policy bundle {folder} ({exc.strerror or exc}).") from None
    return card


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)  # type: ignore[arg-type]


def update_bundle_card(folder: str | Path, *, evaluation: dict[str, Any] | None = None,
                       training: dict[str, Any] | None = None, task: str | None = None) -> PolicyCard:
    """Replace the card's ``evaluation`` / ``training`` / ``task`` (None keeps it) without re-tracing.

    ``policy.onnx`` is loaded with the ``onnx`` package and only its
    ``metadata_props`` (the embedded card) change: the graph, its
    initializers and opsets stay byte-identical. ``card.json``, the new
    ``policy.onnx``, the other files (copied as they are) and a fresh
    ``manifest.json`` are written as a whole, like :func:`save_bundle`. A v1
    bundle comes out as v2. Returns the new card.
    """
    import onnx

    folder = Path(folder)
    if not (folder / CARD_FILE).is_file():
        raise LiquidControlError(f"no policy card at {folder / CARD_FILE}; update_bundle_card needs a bundle folder.")
    _check_replaceable(folder)
    manifest = read_manifest(folder)
    card = card_from_bytes(read_verified(folder, CARD_FILE, manifest), str(folder / CARD_FILE))
    changes: dict[str, Any] = {}
    for name, value, kind in (("evaluation", evaluation, dict), ("training", training, dict), ("task", task, str)):
        if value is not None:
            if not isinstance(value, kind):
                raise LiquidControlError(f"update_bundle_card: {name} must be a {kind.__name__}, got {type(value).__name__}.")
            changes[name] = value
    new = dataclasses.replace(card, **changes)
    new.validate("the updated card")
    onnx_bytes = read_verified(folder, ONNX_FILE, manifest, missing=f"the bundle has no ONNX model at {folder / ONNX_FILE}.")
    try:
        proto = onnx.load_model_from_string(onnx_bytes)
    except Exception as exc:  # protobuf's DecodeError and friends
        raise LiquidControlError(f"cannot read the ONNX model {folder / ONNX_FILE} ({type(exc).__name__}).") from None
    embed_card(proto, new)
    others = {name: read_verified(folder, name, manifest) for name in (TORCH_FILE, NUMPY_FILE)
              if (folder / name).is_file() or (manifest is not None and name in manifest)}
    try:
        with atomic_folder(folder) as tmp:
            (tmp / ONNX_FILE).write_bytes(proto.SerializeToString())
            for name, data in others.items():
                (tmp / name).write_bytes(data)
            (tmp / CARD_FILE).write_text(new.to_json(), encoding="utf-8")
            _finish(tmp)
    except OSError as exc:
        raise LiquidControlError(f"cannot rewrite the policy bundle {folder} ({exc.strerror or exc}).") from None
    return new


def load_policy(folder: str | Path) -> RecurrentPolicy:
    """Rebuild the torch policy of a bundle (registry + safetensors), in eval mode.

    With a ``manifest.json``, ``card.json`` and ``weights.safetensors`` must match its checksums.
    """
    from liquidcontrol.policies.registry import policy_from_config

    folder = Path(folder)
    manifest = read_manifest(folder) if folder.is_dir() else None
    card_path = folder / CARD_FILE
    card = card_from_bytes(
        read_verified(folder, CARD_FILE, manifest, missing=f"no policy card at {card_path}; a bundle folder needs a card.json."),
        str(card_path))
    policy = policy_from_config(card.model_kind, card.model_config)
    path = folder / TORCH_FILE
    read_verified(folder, TORCH_FILE, manifest, missing=f"the bundle has no torch weights at {path}.")
    load_weights(policy, path)
    return policy.eval()
