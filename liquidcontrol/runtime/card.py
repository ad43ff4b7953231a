"""The policy card (``card.json``): what a bundle holds and how to drive it.

A card travels with every policy bundle and is also embedded in the ONNX
file's ``metadata_props`` (key :data:`ONNX_METADATA_KEY`), so either file
alone says what the model expects. Only the standard library is imported
here: the card is read on robots that have numpy and onnxruntime only.

Schema (``format_version`` 2)::

    {
      "format_version": 2,
      "env_id": "liquidcontrol/Parking-v0",
      "task": "parking",                                   # optional string
      "inputs": [                                          # one per ONNX observation input
        {"name": "obs", "key": null, "dtype": "float32", "shape": [14],
         "layout": [{"name": "x", "unit": "m", "scale": 0.5, "group": "pose"}, ...]}
      ],
      "action": [{"name": "steering", "unit": "rad", "scale": 0.38,
                  "low": -1.0, "high": 1.0}, ...],         # act_dim entries
      "control_period_s": 0.05,
      "model": {"kind": "cfc-ncp", "config": {...}, "neurons": {"inter": 6, ...},
                "wiring_seed": 22222, "parameter_count": 740,
                "trainable_parameter_count": 626},
      "act_dim": 2, "state_dim": 12,
      "onnx": {"inputs": ["obs", "state", "dt"], "outputs": ["action", "state_out"],
               "precision": "fp16"},                   # optional: fp32 (default), fp16 or int8
      "training": {...},     # free-form recipe (algorithm, data, epochs, seed ...)
      "evaluation": {...}    # free-form results (success rates, curves ...)
    }

Inputs: a ``Box`` observation is one input ``obs`` (``key`` null); a
``Dict`` observation is one input per key, named ``obs_<key>`` and sorted by
key. A *vector* input has dtype ``float32``, shape ``[n]`` and a layout of
``n`` entries, each with at least ``name`` and ``unit`` (other keys such as
``scale``, ``group``, ``fail_value`` or ``limits`` are kept verbatim). An
*image* input has dtype ``uint8``, shape ``[H, W, 3]`` and a layout object
``{"kind": "image", "channels": "RGB"}``. In the ONNX graph each input gets a
leading batch axis. ``onnx.inputs`` is the input names in order, then
``state`` and ``dt``.

Actions: ``scale`` is the physical value of a unit command (the graph
outputs ``action`` in the env's units, usually [-1, 1]; a robot multiplies
by ``scale`` to get ``unit``); ``low`` / ``high`` are the env's action-space
bounds in env units, null when unknown.

Version 1 cards (a single ``observation`` layout plus ``obs_dim``) are
converted on read. Reading is strict JSON: ``NaN`` / ``Infinity`` tokens and
numbers that overflow to infinity are refused, and every field of the wrong
type or out of range gets one error naming it.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.kinds import KIND_NAMES

FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
ONNX_METADATA_KEY = "liquidcontrol.card"
DEFAULT_INPUTS = ["obs", "state", "dt"]
DEFAULT_OUTPUTS = ["action", "state_out"]
MODEL_KINDS = KIND_NAMES  # the one list of kinds (liquidcontrol.kinds)
VECTOR_DTYPE, IMAGE_DTYPE = "float32", "uint8"
IMAGE_LAYOUT = {"kind": "image", "channels": "RGB"}
#: Number formats of ``policy.onnx`` (its inputs and outputs stay float32 in every one).
ONNX_PRECISIONS = ("fp32", "fp16", "int8")

#: Upper bounds of the card's numbers (anything larger is a corrupt card, not a policy).
MAX_CONTROL_PERIOD_S = 3600.0
MAX_ACT_DIM = 10_000
MAX_STATE_DIM = 1_000_000
MAX_VECTOR_WIDTH = 1_000_000
MAX_IMAGE_SIDE = 16_384
MAX_INPUTS = 256


@dataclass
class PolicyCard:
    """Everything needed to run and judge a policy without its training code.

    The single-step graph takes each observation input with a leading batch
    axis (``obs`` [B, n] for a vector, ``obs_<key>`` [B, H, W, 3] uint8 for an
    image), ``state`` [B, state_dim] and ``dt`` [B, 1] seconds, and returns
    ``action`` [B, act_dim] and ``state_out``. Build vector inputs with
    :func:`vector_input` / :func:`image_input`.
    """

    env_id: str
    model_kind: str
    act_dim: int
    state_dim: int
    control_period_s: float
    inputs: list[dict[str, Any]] = field(default_factory=list)
    model_config: dict[str, Any] = field(default_factory=dict)
    action: list[dict[str, Any]] = field(default_factory=list)
    task: str | None = None
    neurons: dict[str, int] = field(default_factory=dict)
    wiring_seed: int | None = None
    parameter_count: int = 0
    trainable_parameter_count: int | None = None
    onnx_outputs: list[str] = field(default_factory=lambda: list(DEFAULT_OUTPUTS))
    onnx_precision: str = "fp32"
    training: dict[str, Any] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        # Unnamed action channels get placeholder names, and every action
        # entry carries low / high (null when unknown), so the layout is complete.
        if not self.action and _is_int(self.act_dim) and 0 < self.act_dim <= MAX_ACT_DIM:
            self.action = [{"name": f"action_{i}", "unit": "", "scale": 1.0} for i in range(self.act_dim)]
        if isinstance(self.action, list):
            self.action = [_with_bounds(e) for e in self.action]

    # -- derived views ----------------------------------------------------
    @property
    def obs_dim(self) -> int:
        """Total width of the vector (float32) inputs; for a single ``obs`` input its width."""
        return sum(_width(i) for i in self.vector_inputs())

    @property
    def observation(self) -> list[dict[str, Any]] | dict[str, Any]:
        """Layouts as ``card_from_policy`` takes them: the single ``obs`` input's
        list, else ``{key: layout}`` for a dict observation."""
        if self.is_dict:
            return {i["key"]: i.get("layout") for i in self.inputs}
        layout = self.inputs[0].get("layout") if self.inputs else None
        return layout if isinstance(layout, list) else []

    @property
    def is_dict(self) -> bool:
        """True for a Dict observation (inputs ``obs_<key>``)."""
        return any(isinstance(i, dict) and i.get("key") is not None for i in self.inputs)

    @property
    def onnx_inputs(self) -> list[str]:
        """The graph's input names: the observation inputs, then ``state`` and ``dt``."""
        return [str(i.get("name")) if isinstance(i, dict) else "?" for i in self.inputs] + ["state", "dt"]

    def obs_inputs(self) -> list[str]:
        """Names of the observation inputs: ``["obs"]`` or ``["obs_<key>", ...]``."""
        return self.onnx_inputs[:-2]

    def vector_inputs(self) -> list[dict[str, Any]]:
        return [i for i in self.inputs if isinstance(i, dict) and i.get("dtype") == VECTOR_DTYPE]

    def image_inputs(self) -> list[dict[str, Any]]:
        return [i for i in self.inputs if isinstance(i, dict) and i.get("dtype") == IMAGE_DTYPE]

    def action_scale(self) -> list[float]:
        """Physical value of a unit command per action channel (``scale``, default 1)."""
        return [float(entry.get("scale", 1.0)) for entry in self.action]

    def action_bounds(self) -> tuple[list[float], list[float]] | None:
        """``(low, high)`` per action channel in env units, ready for ``np.clip``
        (a side that is unknown is ``-inf`` / ``inf``); None when no bound is known."""
        lows = [e.get("low") for e in self.action]
        highs = [e.get("high") for e in self.action]
        if all(v is None for v in lows + highs):
            return None
        return ([-math.inf if v is None else float(v) for v in lows],
                [math.inf if v is None else float(v) for v in highs])

    # -- (de)serialisation ------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The JSON layout documented in the module docstring."""
        flat = asdict(self)
        out: dict[str, Any] = {"format_version": flat["format_version"], "env_id": flat["env_id"]}
        if flat["task"] is not None:
            out["task"] = flat["task"]
        out.update({
            "inputs": flat["inputs"],
            "action": flat["action"],
            "control_period_s": flat["control_period_s"],
            "model": {
                "kind": flat["model_kind"],
                "config": flat["model_config"],
                "neurons": flat["neurons"],
                "wiring_seed": flat["wiring_seed"],
                "parameter_count": flat["parameter_count"],
                "trainable_parameter_count": flat["trainable_parameter_count"],
            },
            "act_dim": flat["act_dim"],
            "state_dim": flat["state_dim"],
            "onnx": {"inputs": self.onnx_inputs, "outputs": flat["onnx_outputs"],
                     **({"precision": self.onnx_precision} if self.onnx_precision != "fp32" else {})},
            "training": flat["training"],
            "evaluation": flat["evaluation"],
        })
        return out

    def to_json(self) -> str:
        """Strict JSON (no NaN / Infinity), indented; raises if a field cannot be written."""
        self._check_strict_json("card")
        return json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"

    @classmethod
    def from_dict(cls, data: Any, source: str = "card") -> PolicyCard:
        """Build and validate a card from parsed JSON (version 1 or 2); ``source`` names it in errors."""
        if not isinstance(data, dict):
            raise LiquidControlError(f"{source} must be a JSON object, got {type(data).__name__}.")
        version = _require(data, "format_version", int, source)
        if version not in READABLE_VERSIONS:
            raise LiquidControlError(
                f"{source} has format_version {_short(version)}; this liquidcontrol reads versions "
                f"{' and '.join(map(str, READABLE_VERSIONS))} (a newer card needs a newer liquidcontrol).")
        if version == 1:
            data = _upgrade_v1(data, source)
        model = _require(data, "model", dict, source)
        onnx_io = _require(data, "onnx", dict, source)
        msrc = f"{source} model"
        card = cls(
            env_id=_require(data, "env_id", str, source),
            task=_optional(data, "task", str, source),
            model_kind=_require(model, "kind", str, msrc),
            act_dim=_require(data, "act_dim", int, source),
            state_dim=_require(data, "state_dim", int, source),
            control_period_s=float(_require(data, "control_period_s", (int, float), source)),
            inputs=_require(data, "inputs", list, source),
            model_config=_require(model, "config", dict, msrc),
            action=_require(data, "action", list, source),
            neurons=_optional(model, "neurons", dict, msrc) or {},
            wiring_seed=_optional(model, "wiring_seed", int, msrc),
            parameter_count=_optional(model, "parameter_count", int, msrc) or 0,
            trainable_parameter_count=_optional(model, "trainable_parameter_count", int, msrc),
            onnx_outputs=_require(onnx_io, "outputs", list, f"{source} onnx"),
            onnx_precision=_optional(onnx_io, "precision", str, f"{source} onnx") or "fp32",
            training=_optional(data, "training", dict, source) or {},
            evaluation=_optional(data, "evaluation", dict, source) or {},
        )
        card.validate(source)
        listed = _require(onnx_io, "inputs", list, f"{source} onnx")
        if listed != card.onnx_inputs:
            raise LiquidControlError(
                f"{source} lists ONNX inputs {_short(listed)} but its inputs section gives {card.onnx_inputs}.")
        return card

    @classmethod
    def from_json(cls, text: str, source: str = "card") -> PolicyCard:
        return cls.from_dict(strict_json_loads(text, source), source)

    # -- checks -----------------------------------------------------------
    def validate(self, source: str = "card") -> None:
        """Raise one clear :class:`LiquidControlError` for the first problem found."""
        if self.format_version != FORMAT_VERSION:
            raise LiquidControlError(
                f"{source} has format_version {_short(self.format_version)}; cards are written as version {FORMAT_VERSION}.")
        _check_type(self.env_id, str, "env_id", source)
        if self.task is not None:
            _check_type(self.task, str, "task", source)
        _check_type(self.model_kind, str, "model kind", source)
        if self.model_kind not in MODEL_KINDS:
            raise LiquidControlError(
                f"{source} names unknown model kind {_short(self.model_kind)}; expected one of {', '.join(MODEL_KINDS)}.")
        _check_int(self.act_dim, "act_dim", source, 1, MAX_ACT_DIM)
        _check_int(self.state_dim, "state_dim", source, 0, MAX_STATE_DIM)
        period = self.control_period_s
        if not (_is_number(period) and math.isfinite(period) and 0 < period <= MAX_CONTROL_PERIOD_S):
            raise LiquidControlError(
                f"{source} field control_period_s must be a finite number of seconds in (0, {MAX_CONTROL_PERIOD_S:g}], "
                f"got {_short(period)}.")
        for name, kind in (("model_config", dict), ("neurons", dict), ("training", dict),
                           ("evaluation", dict), ("inputs", list), ("action", list), ("onnx_outputs", list)):
            _check_type(getattr(self, name), kind, name, source)
        for key, value in self.neurons.items():
            if not _is_int(value) or value < 0:
                raise LiquidControlError(f"{source} model neurons[{_short(key)}] must be a count, got {_short(value)}.")
        if self.wiring_seed is not None and not _is_int(self.wiring_seed):
            raise LiquidControlError(f"{source} model wiring_seed must be an integer or null, got {_short(self.wiring_seed)}.")
        _check_int(self.parameter_count, "parameter_count", source, 0, None)
        if self.trainable_parameter_count is not None:
            _check_int(self.trainable_parameter_count, "trainable_parameter_count", source, 0, None)
        _check_inputs(self.inputs, source)
        _check_actions(self.action, self.act_dim, source)
        for key in ("obs_dim", "act_dim"):
            if key not in self.model_config or (key == "obs_dim" and self.is_dict):
                continue
            said = self.model_config[key]
            if not _is_int(said) or said != getattr(self, key):
                raise LiquidControlError(
                    f"{source} says {key}={getattr(self, key)} but its model config says {_short(said)}.")
        if list(self.onnx_outputs) != DEFAULT_OUTPUTS:
            raise LiquidControlError(f"{source} lists ONNX outputs {_short(self.onnx_outputs)}; expected {DEFAULT_OUTPUTS}.")
        if self.onnx_precision not in ONNX_PRECISIONS:
            raise LiquidControlError(f"{source} gives onnx precision {_short(self.onnx_precision)}; expected one of "
                                     f"{', '.join(ONNX_PRECISIONS)}.")
        self._check_strict_json(source)

    def _check_strict_json(self, source: str) -> None:
        for name in ("env_id", "task", "inputs", "action", "model_config", "neurons", "training", "evaluation"):
            try:
                json.dumps(getattr(self, name), allow_nan=False)
            except (TypeError, ValueError, RecursionError) as exc:
                raise LiquidControlError(
                    f"{source} field {name} is not strict JSON ({_clip_text(str(exc))}); use plain numbers, "
                    "strings, lists and objects, without NaN or infinity.") from None


def vector_input(width: int, layout: list[dict[str, Any]] | None = None, key: str | None = None) -> dict[str, Any]:
    """A card input for a float32 vector: ``obs`` (``key`` None) or ``obs_<key>``;
    ``layout`` defaults to placeholder channel names."""
    if layout is None:
        stem = "obs" if key is None else str(key)
        layout = [{"name": f"{stem}_{i}", "unit": ""} for i in range(width)]
    return {"name": "obs" if key is None else f"obs_{key}", "key": key, "dtype": VECTOR_DTYPE,
            "shape": [int(width)], "layout": [dict(e) if isinstance(e, dict) else e for e in layout]}


def image_input(key: str, height: int, width: int, layout: dict[str, Any] | None = None) -> dict[str, Any]:
    """A card input for a uint8 RGB image ``obs_<key>`` of shape [H, W, 3]."""
    return {"name": f"obs_{key}", "key": key, "dtype": IMAGE_DTYPE, "shape": [int(height), int(width), 3],
            "layout": dict(layout) if layout is not None else dict(IMAGE_LAYOUT)}


# -- strict JSON --------------------------------------------------------------
class _NotStrict(ValueError):
    pass


def _reject_constant(token: str) -> Any:
    raise _NotStrict(f"the token {token} is not JSON")


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotStrict(f"the number {text[:24]} overflows to infinity")
    return value


def strict_json_loads(text: str, source: str) -> Any:
    """``json.loads`` that refuses NaN / Infinity and overflowing numbers, with one clear error."""
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=_parse_float)
    except json.JSONDecodeError as exc:
        raise LiquidControlError(f"{source} is not valid JSON ({exc.msg} at line {exc.lineno}).") from None
    except _NotStrict as exc:
        raise LiquidControlError(f"{source} is not strict JSON: {exc}.") from None
    except (ValueError, RecursionError, TypeError) as exc:  # e.g. integers past Python's digit limit
        raise LiquidControlError(f"{source} cannot be parsed ({type(exc).__name__}: {_clip_text(str(exc))}).") from None


# -- helpers ------------------------------------------------------------------
def _short(value: Any, limit: int = 60) -> str:
    """``repr`` cut to ``limit`` characters, on one line."""
    return _clip_text(repr(value), limit)


def _clip_text(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _type_name(kind: type | tuple[type, ...]) -> str:
    names = {int: "an integer", float: "a number", str: "a string", dict: "an object", list: "a list"}
    if isinstance(kind, tuple):
        return "a number"
    return names.get(kind, kind.__name__)


def _matches(value: Any, kind: type | tuple[type, ...]) -> bool:
    if isinstance(value, bool) and (kind is int or isinstance(kind, tuple)):
        return False
    return isinstance(value, kind)


def _require(data: dict[str, Any], key: str, kind: type | tuple[type, ...], source: str) -> Any:
    if key not in data:
        raise LiquidControlError(f"{source} is missing the required field {key!r}.")
    value = data[key]
    if not _matches(value, kind):
        raise LiquidControlError(f"{source} field {key!r} should be {_type_name(kind)}, got {_short(value)}.")
    return value


def _optional(data: dict[str, Any], key: str, kind: type, source: str) -> Any:
    value = data.get(key)
    if value is not None and not _matches(value, kind):
        raise LiquidControlError(f"{source} field {key!r} should be {_type_name(kind)} or null, got {_short(value)}.")
    return value


def _check_type(value: Any, kind: type, name: str, source: str) -> None:
    if not _matches(value, kind):
        raise LiquidControlError(f"{source} field {name} should be {_type_name(kind)}, got {_short(value)}.")


def _check_int(value: Any, name: str, source: str, low: int, high: int | None) -> None:
    if not _is_int(value) or value < low or (high is not None and value > high):
        if low == 1:
            span = "a positive integer"
        elif low == 0:
            span = "zero or a positive integer"
        else:
            span = f"an integer >= {low}"
        if high is not None:
            span += f" of at most {high}"
        raise LiquidControlError(f"{source} field {name} must be {span}, got {_short(value)}.")


def _width(inp: dict[str, Any]) -> int:
    shape = inp.get("shape")
    return shape[0] if isinstance(shape, list) and len(shape) == 1 and _is_int(shape[0]) else 0


def _with_bounds(entry: Any) -> Any:
    if not isinstance(entry, dict):
        return entry
    out = dict(entry)
    out.setdefault("low", None)
    out.setdefault("high", None)
    return out


def _upgrade_v1(data: dict[str, Any], source: str) -> dict[str, Any]:
    """A version 1 card as version 2: one input ``obs`` with the v1 observation layout."""
    obs_dim = _require(data, "obs_dim", int, source)
    _check_int(obs_dim, "obs_dim", source, 1, MAX_VECTOR_WIDTH)
    layout = _require(data, "observation", list, source)
    up = {k: v for k, v in data.items() if k not in ("obs_dim", "observation")}
    up["format_version"] = 2
    up["inputs"] = [{"name": "obs", "key": None, "dtype": VECTOR_DTYPE, "shape": [obs_dim], "layout": layout}]
    return up


def _check_inputs(inputs: list[Any], source: str) -> None:
    if not 1 <= len(inputs) <= MAX_INPUTS:
        raise LiquidControlError(f"{source} field inputs must list 1 to {MAX_INPUTS} observation inputs, got {len(inputs)}.")
    keys: list[str] = []
    for n, inp in enumerate(inputs):
        where = f"{source} input {n}"
        if not isinstance(inp, dict):
            raise LiquidControlError(f"{where} must be an object with name, key, dtype, shape and layout, got {_short(inp)}.")
        for req in ("name", "key", "dtype", "shape", "layout"):
            if req not in inp:
                raise LiquidControlError(f"{where} is missing the field {req!r}.")
        name, key, dtype, shape = inp["name"], inp["key"], inp["dtype"], inp["shape"]
        if key is None:
            if name != "obs" or len(inputs) != 1:
                raise LiquidControlError(
                    f"{where} has key null, which only a single input named 'obs' may have (got name {_short(name)}).")
        else:
            if not isinstance(key, str) or not key or len(key) > 200:
                raise LiquidControlError(f"{where} field key must be a non-empty string or null, got {_short(key)}.")
            if name != f"obs_{key}":
                raise LiquidControlError(f"{where} with key {key!r} must be named {'obs_' + key!r}, got {_short(name)}.")
            if keys and key <= keys[-1]:
                raise LiquidControlError(f"{source} inputs must be sorted by key without repeats; {key!r} follows {keys[-1]!r}.")
            keys.append(key)
        if dtype == VECTOR_DTYPE:
            if not (isinstance(shape, list) and len(shape) == 1 and _is_int(shape[0]) and 1 <= shape[0] <= MAX_VECTOR_WIDTH):
                raise LiquidControlError(
                    f"{where} ({name}) is a float32 vector, so its shape must be [n] with 1 <= n <= {MAX_VECTOR_WIDTH}, got {_short(shape)}.")
            _check_layout(inp["layout"], shape[0], f"{name} layout", source)
        elif dtype == IMAGE_DTYPE:
            if not (isinstance(shape, list) and len(shape) == 3 and all(_is_int(s) for s in shape)
                    and 1 <= shape[0] <= MAX_IMAGE_SIDE and 1 <= shape[1] <= MAX_IMAGE_SIDE and shape[2] == 3):
                raise LiquidControlError(
                    f"{where} ({name}) is a uint8 image, so its shape must be [H, W, 3], got {_short(shape)}.")
            layout = inp["layout"]
            if not isinstance(layout, dict) or layout.get("kind") != "image":
                raise LiquidControlError(f"{where} ({name}) layout must be an object with \"kind\": \"image\", got {_short(layout)}.")
        else:
            raise LiquidControlError(
                f"{where} ({_short(name)}) has dtype {_short(dtype)}; expected {VECTOR_DTYPE!r} (vector) or {IMAGE_DTYPE!r} (image).")


def _check_layout(entries: Any, width: int, what: str, source: str) -> None:
    if not isinstance(entries, list):
        raise LiquidControlError(f"{source} {what} should be a list of {width} entries, got {_short(entries)}.")
    if len(entries) != width:
        raise LiquidControlError(f"{source} {what} has {len(entries)} entries but the width is {width}.")
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not isinstance(entry.get("unit"), str):
            raise LiquidControlError(
                f"{source} {what} entry {i} must be an object with a 'name' and a 'unit' (strings), got {_short(entry)}.")


def _check_actions(entries: list[Any], act_dim: int, source: str) -> None:
    if len(entries) != act_dim:
        raise LiquidControlError(f"{source} action layout has {len(entries)} entries but act_dim is {act_dim}.")
    _check_layout(entries, act_dim, "action layout", source)
    for i, entry in enumerate(entries):
        for key, nullable in (("scale", False), ("low", True), ("high", True)):
            if key not in entry or (nullable and entry[key] is None):
                continue
            value = entry[key]
            if not (_is_number(value) and math.isfinite(value)):
                kind = "a finite number or null" if nullable else "a finite number"
                raise LiquidControlError(f"{source} action entry {i} field {key} must be {kind}, got {_short(value)}.")
        low, high = entry.get("low"), entry.get("high")
        if low is not None and high is not None and low > high:
            raise LiquidControlError(f"{source} action entry {i} has low {low} above high {high}.")


def load_card(path: str | Path) -> PolicyCard:
    """Read and validate ``card.json`` (a file, or a bundle folder holding one).

    If the folder has a ``manifest.json``, the card must match its checksum.
    """
    from liquidcontrol.runtime.manifest import read_manifest, read_verified

    p = Path(path)
    if p.is_dir():
        p = p / "card.json"
    if not p.is_file():
        raise LiquidControlError(f"no policy card at {p}; a bundle folder needs a card.json.")
    data = read_verified(p.parent, p.name, read_manifest(p.parent))
    return card_from_bytes(data, str(p))


def card_from_bytes(data: bytes, source: str) -> PolicyCard:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise LiquidControlError(f"the policy card {source} is not UTF-8 text.") from None
    return PolicyCard.from_json(text, source=source)
