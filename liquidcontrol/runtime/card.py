"""The policy card (``card.json``): what a bundle holds and how to drive it.

A card travels with every policy bundle and is also embedded in the ONNX
file's ``metadata_props`` (key :data:`ONNX_METADATA_KEY`), so either file
alone says what the model expects. Only the standard library is imported
here: the card is read on robots that have numpy and onnxruntime only.

Schema (``format_version`` 1)::

    {
      "format_version": 1,
      "env_id": "liquidcontrol/Parking-v0",
      "observation": [{"name": "x", "unit": "m", ...}, ...],      # obs_dim entries
      "action": [{"name": "steer", "unit": "rad", "scale": 0.38}, ...],  # act_dim entries
      "control_period_s": 0.05,
      "model": {"kind": "cfc-ncp", "config": {...}, "neurons": {"inter": 7, ...},
                "wiring_seed": 22222, "parameter_count": 592},
      "obs_dim": 8, "act_dim": 2, "state_dim": 12,
      "onnx": {"inputs": ["obs", "state", "dt"], "outputs": ["action", "state_out"]},
      "training": {...},     # free-form recipe (algorithm, data, epochs, seed ...)
      "evaluation": {...}    # free-form results (success rates, curves ...)
    }

``scale`` in an action entry is the physical value of a unit command: the
graph outputs ``action`` in the env's units (usually [-1, 1]); a robot
multiplies by ``scale`` to get ``unit``.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from liquidcontrol.errors import LiquidControlError

FORMAT_VERSION = 1
ONNX_METADATA_KEY = "liquidcontrol.card"
DEFAULT_INPUTS = ["obs", "state", "dt"]
DEFAULT_OUTPUTS = ["action", "state_out"]
MODEL_KINDS = ("cfc-ncp", "cfc", "ltc-ncp", "ltc", "lstm", "gru", "mlp")


@dataclass
class PolicyCard:
    """Everything needed to run and judge a policy without its training code.

    Dimensions are widths of the single-step graph: ``obs`` [B, obs_dim],
    ``state`` [B, state_dim], ``dt`` [B, 1] seconds, ``action`` [B, act_dim].
    """

    env_id: str
    model_kind: str
    obs_dim: int
    act_dim: int
    state_dim: int
    control_period_s: float
    model_config: dict[str, Any] = field(default_factory=dict)
    observation: list[dict[str, Any]] = field(default_factory=list)
    action: list[dict[str, Any]] = field(default_factory=list)
    neurons: dict[str, int] = field(default_factory=dict)
    wiring_seed: int | None = None
    parameter_count: int = 0
    onnx_inputs: list[str] = field(default_factory=lambda: list(DEFAULT_INPUTS))
    onnx_outputs: list[str] = field(default_factory=lambda: list(DEFAULT_OUTPUTS))
    training: dict[str, Any] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        # Unnamed channels get placeholder names so the layout is always complete.
        if not self.observation:
            self.observation = [{"name": f"obs_{i}", "unit": ""} for i in range(self.obs_dim)]
        if not self.action:
            self.action = [{"name": f"action_{i}", "unit": "", "scale": 1.0} for i in range(self.act_dim)]

    # -- (de)serialisation ------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The JSON layout documented in the module docstring."""
        flat = asdict(self)
        return {
            "format_version": flat["format_version"],
            "env_id": flat["env_id"],
            "observation": flat["observation"],
            "action": flat["action"],
            "control_period_s": flat["control_period_s"],
            "model": {
                "kind": flat["model_kind"],
                "config": flat["model_config"],
                "neurons": flat["neurons"],
                "wiring_seed": flat["wiring_seed"],
                "parameter_count": flat["parameter_count"],
            },
            "obs_dim": flat["obs_dim"],
            "act_dim": flat["act_dim"],
            "state_dim": flat["state_dim"],
            "onnx": {"inputs": flat["onnx_inputs"], "outputs": flat["onnx_outputs"]},
            "training": flat["training"],
            "evaluation": flat["evaluation"],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_dict(cls, data: Any, source: str = "card") -> PolicyCard:
        """Build and validate a card from parsed JSON; ``source`` names it in errors."""
        if not isinstance(data, dict):
            raise LiquidControlError(f"{source} must be a JSON object, got {type(data).__name__}.")
        model = _require(data, "model", dict, source)
        onnx_io = _require(data, "onnx", dict, source)
        card = cls(
            env_id=_require(data, "env_id", str, source),
            model_kind=_require(model, "kind", str, f"{source} model"),
            obs_dim=_require(data, "obs_dim", int, source),
            act_dim=_require(data, "act_dim", int, source),
            state_dim=_require(data, "state_dim", int, source),
            control_period_s=float(_require(data, "control_period_s", (int, float), source)),
            model_config=_require(model, "config", dict, f"{source} model"),
            observation=_require(data, "observation", list, source),
            action=_require(data, "action", list, source),
            neurons=dict(model.get("neurons") or {}),
            wiring_seed=model.get("wiring_seed"),
            parameter_count=int(model.get("parameter_count") or 0),
            onnx_inputs=_require(onnx_io, "inputs", list, f"{source} onnx"),
            onnx_outputs=_require(onnx_io, "outputs", list, f"{source} onnx"),
            training=dict(data.get("training") or {}),
            evaluation=dict(data.get("evaluation") or {}),
            format_version=_require(data, "format_version", int, source),
        )
        card.validate(source)
        return card

    @classmethod
    def from_json(cls, text: str, source: str = "card") -> PolicyCard:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise LiquidControlError(f"{source} is not valid JSON ({exc.msg} at line {exc.lineno}).") from None
        return cls.from_dict(data, source)

    # -- checks -----------------------------------------------------------
    def validate(self, source: str = "card") -> None:
        """Raise one clear :class:`LiquidControlError` for the first problem found."""
        if self.format_version != FORMAT_VERSION:
            raise LiquidControlError(
                f"{source} has format_version {self.format_version}; this liquidcontrol reads version {FORMAT_VERSION}."
            )
        if self.model_kind not in MODEL_KINDS:
            raise LiquidControlError(f"{source} names unknown model kind {self.model_kind!r}; expected one of {', '.join(MODEL_KINDS)}.")
        for name in ("obs_dim", "act_dim"):
            if getattr(self, name) <= 0:
                raise LiquidControlError(f"{source} field {name} must be a positive integer, got {getattr(self, name)}.")
        if self.state_dim < 0:
            raise LiquidControlError(f"{source} field state_dim must be zero or positive, got {self.state_dim}.")
        if not (math.isfinite(self.control_period_s) and self.control_period_s > 0):
            raise LiquidControlError(f"{source} control_period_s must be a positive number of seconds, got {self.control_period_s}.")
        _check_layout(self.observation, self.obs_dim, "observation", source)
        _check_layout(self.action, self.act_dim, "action", source)
        for key in ("obs_dim", "act_dim"):
            if key in self.model_config and int(self.model_config[key]) != getattr(self, key):
                raise LiquidControlError(
                    f"{source} says {key}={getattr(self, key)} but its model config says {self.model_config[key]}."
                )
        self.obs_inputs()  # checks the input names
        if list(self.onnx_outputs) != DEFAULT_OUTPUTS:
            raise LiquidControlError(f"{source} lists ONNX outputs {self.onnx_outputs}; expected {DEFAULT_OUTPUTS}.")

    def obs_inputs(self) -> list[str]:
        """Names of the observation inputs: ``["obs"]`` or ``["obs_<key>", ...]``."""
        names = list(self.onnx_inputs)
        if len(names) < 3 or names[-2:] != ["state", "dt"] or not all(
            isinstance(n, str) and (n == "obs" or n.startswith("obs_")) for n in names[:-2]
        ):
            raise LiquidControlError(
                f"card lists ONNX inputs {names}; expected 'obs' (or 'obs_<key>' names) followed by 'state' and 'dt'."
            )
        return names[:-2]

    def action_scale(self) -> list[float]:
        """Physical value of a unit command per action channel (``scale``, default 1)."""
        return [float(entry.get("scale", 1.0)) for entry in self.action]


def _require(data: dict[str, Any], key: str, kind: type | tuple[type, ...], source: str) -> Any:
    if key not in data:
        raise LiquidControlError(f"{source} is missing the required field {key!r}.")
    value = data[key]
    bad_bool = isinstance(value, bool) and kind in (int, (int, float))
    if bad_bool or not isinstance(value, kind):
        expected = kind.__name__ if isinstance(kind, type) else "number"
        raise LiquidControlError(f"{source} field {key!r} should be {expected}, got {value!r}.")
    return value


def _check_layout(entries: list[Any], width: int, what: str, source: str) -> None:
    if len(entries) != width:
        raise LiquidControlError(f"{source} {what} layout has {len(entries)} entries but the policy's {what} width is {width}.")
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or "unit" not in entry:
            raise LiquidControlError(f"{source} {what} entry {i} must be an object with a 'name' and a 'unit', got {entry!r}.")


def load_card(path: str | Path) -> PolicyCard:
    """Read and validate ``card.json`` (a file, or a bundle folder holding one)."""
    p = Path(path)
    if p.is_dir():
        p = p / "card.json"
    if not p.is_file():
        raise LiquidControlError(f"no policy card at {p}; a bundle folder needs a card.json.")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LiquidControlError(f"cannot read the policy card {p} ({exc}).") from None
    return PolicyCard.from_json(text, source=str(p))
