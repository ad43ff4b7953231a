"""The policy node's parameters, parsed and checked against the bundle's card (no ROS import).

Parameters arrive as ROS 2 gives them: a flat mapping of dotted names to
values (``inputs.x.topic``). See ``ros_nodes/README.md`` for the table.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.runtime.card import IMAGE_DTYPE, PolicyCard
from liquidcontrol_ros.fields import TRANSFORMS, make_extractor, make_setter, parse_path
from liquidcontrol_ros.images import ImageSpec

#: Command message kinds the adapter can publish, with the fields an action may fill.
TWIST_FIELDS = tuple(f"{part}.{axis}" for part in ("linear", "angular") for axis in "xyz")
COMMAND_TYPES = ("twist_stamped", "twist", "float32_array", "joint_state")
#: joint_state commands: one joint per action (named after it, card order), all in one of these arrays.
JOINT_FIELDS = ("position", "velocity", "effort")
BACKENDS = ("onnxruntime", "numpy")
COMMAND_STAMPS = ("now", "input")
PREVIOUS_ACTION = "previous_action"
_MSG_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9_]*/msg/[A-Z][A-Za-z0-9]*")
_DATA_FIELD = re.compile(r"data\[(\d{1,4})\]")
_TOP_LEVEL = {"bundle", "backend", "timeout", "max_dt", "future_tolerance", "check_stamps", "use_sim_time"}
_CHANNEL_KEYS = {"topic", "type", "field", "transform", "unit", "source", "initial"}
_IMAGE_KEYS = {"topic", "type", "encoding", "height", "width"}
IMAGE_MSG = "sensor_msgs/msg/Image"
IMAGE_OFFSET = -1  # Channel.offset of a whole image input
_COMMAND_KEYS = {"type", "topic", "frame_id", "stamp", "fields", "stop", "constant"}


@dataclass
class Channel:
    """One card channel and where its value comes from."""

    name: str            # layout name (``key.name`` for a Dict observation)
    input_index: int     # which card input
    offset: int          # index inside that input's vector
    topic: str = ""      # empty for source previous_action
    msg_type: str = ""
    field: str = ""
    transform: str = "value"
    source: str = "topic"
    initial: float = 0.0  # previous_action: the value after a reset, env units
    image: ImageSpec | None = None  # an image input (offset IMAGE_OFFSET): the whole input from one Image topic


@dataclass
class CommandSpec:
    """How the action becomes a command message."""

    kind: str = "twist_stamped"
    topic: str = "cmd_vel"
    frame_id: str = "base_link"
    stamp: str = "now"
    fields: list[str] = field(default_factory=list)   # one per action entry, in card order
    stop: list[float] = field(default_factory=list)   # physical units, one per action entry
    # Twist fields no action fills, held at a value while the policy drives and 0 in the stop command
    # (the camera car steers only: its cruise speed goes in linear.x).
    constant: dict[str, float] = field(default_factory=dict)


@dataclass
class NodeConfig:
    bundle: str
    backend: str = "onnxruntime"
    timeout: float = 0.5
    max_dt: float = 1.0
    future_tolerance: float = 0.05
    check_stamps: bool = True
    channels: list[Channel] = field(default_factory=list)
    command: CommandSpec = field(default_factory=CommandSpec)

    def topics(self) -> dict[str, str]:
        """``{topic: message type}`` of the subscriptions the node needs."""
        return {c.topic: c.msg_type for c in self.channels if c.source == "topic"}


def _seconds(params: Mapping[str, Any], name: str, default: float, allow_zero: bool = False) -> float:
    value = params.get(name, default)
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        kind = "zero or more" if allow_zero else "more than zero"
        raise LiquidControlError(f"parameter {name} must be a finite number of seconds, {kind}, got {value!r}.")
    return float(value)


def _text(params: Mapping[str, Any], name: str, default: str | None, choices: tuple[str, ...] | None = None) -> str:
    value = params.get(name, default)
    if not isinstance(value, str) or not value:
        raise LiquidControlError(f"parameter {name} must be a non-empty string, got {value!r}.")
    if choices is not None and value not in choices:
        raise LiquidControlError(f"parameter {name} is {value!r}; expected one of {', '.join(choices)}.")
    return value


def group(params: Mapping[str, Any], prefix: str) -> dict[str, dict[str, Any]]:
    """``{"inputs.x.topic": v}`` -> ``{"x": {"topic": v}}`` for one prefix (the last dot splits)."""
    out: dict[str, dict[str, Any]] = {}
    for key, value in params.items():
        if not key.startswith(prefix + "."):
            continue
        name, _, attr = key[len(prefix) + 1:].rpartition(".")
        if not name:
            raise LiquidControlError(f"parameter {key} is not of the form {prefix}.<channel>.<attribute>.")
        out.setdefault(name, {})[attr] = value
    return out


def parse_config(params: Mapping[str, Any]) -> NodeConfig:
    """The node's settings from its flat parameters, before the card is known."""
    unknown = sorted(k for k in params if k not in _TOP_LEVEL and not k.startswith(("inputs.", "command.")))
    if unknown:
        raise LiquidControlError(
            f"unknown parameter {unknown[0]}; expected bundle, backend, timeout, max_dt, future_tolerance, "
            "check_stamps, inputs.<channel>.* or command.*.")
    check = params.get("check_stamps", True)
    if not isinstance(check, bool):
        raise LiquidControlError(f"parameter check_stamps must be true or false, got {check!r}.")
    return NodeConfig(
        bundle=_text(params, "bundle", None),
        backend=_text(params, "backend", "onnxruntime", BACKENDS),
        timeout=_seconds(params, "timeout", 0.5),
        max_dt=_seconds(params, "max_dt", 1.0),
        future_tolerance=_seconds(params, "future_tolerance", 0.05, allow_zero=True),
        check_stamps=check,
    )


def bind_to_card(config: NodeConfig, params: Mapping[str, Any], card: PolicyCard) -> NodeConfig:
    """Fill ``config.channels`` and ``config.command`` from the parameters, checked against ``card``.

    Every vector channel of the card must be mapped and every mapping must
    name a card channel; units given in the parameters must equal the card's.
    """
    layouts = _card_channels(card)
    mapped = group(params, "inputs")
    extra = sorted(set(mapped) - set(layouts))
    if extra:
        raise LiquidControlError(
            f"the parameters map input channel {extra[0]!r} but the card of {config.bundle} has no such channel; "
            f"its channels are {', '.join(layouts)}.")
    missing = [name for name in layouts if name not in mapped]
    if missing:
        needs = ".topic and .type" if layouts[missing[0]][1] == IMAGE_OFFSET else ".topic, .type and .field"
        raise LiquidControlError(
            f"the card of {config.bundle} needs input channel {missing[0]!r} but the parameters give it no source "
            f"(set inputs.{missing[0]}{needs}).")
    config.channels = [_channel(name, *layouts[name], mapped[name], card) for name in layouts]
    types: dict[str, str] = {}
    for ch in config.channels:
        if ch.source == "topic" and types.setdefault(ch.topic, ch.msg_type) != ch.msg_type:
            raise LiquidControlError(
                f"topic {ch.topic!r} is given two message types, {types[ch.topic]} and {ch.msg_type}.")
    image_topics = [ch.topic for ch in config.channels if ch.image is not None]
    for ch in config.channels:
        if ch.source == "topic" and ch.topic in image_topics and ch.image is None:
            raise LiquidControlError(
                f"input channel {ch.name!r} reads topic {ch.topic!r}, which carries an image input; "
                "an image topic feeds its image only.")
    if len(set(image_topics)) != len(image_topics):
        raise LiquidControlError("two image inputs read the same topic; give each camera its own topic.")
    config.command = _command(params, card)
    return config


def _card_channels(card: PolicyCard) -> dict[str, tuple[int, int, dict[str, Any]]]:
    """``{channel name: (input index, offset, layout entry)}`` in card order; an image input is one
    channel named by its key, offset ``IMAGE_OFFSET``, with the whole input as its entry."""
    out: dict[str, tuple[int, int, dict[str, Any]]] = {}
    for i, inp in enumerate(card.inputs):
        if inp["dtype"] == IMAGE_DTYPE:
            name = inp["key"] if inp["key"] is not None else inp["name"]
            if name in out:
                raise LiquidControlError(f"the card names two channels {name!r}; the node maps channels by name.")
            out[name] = (i, IMAGE_OFFSET, inp)
            continue
        for j, entry in enumerate(inp["layout"]):
            name = entry["name"] if inp["key"] is None else f"{inp['key']}.{entry['name']}"
            if name in out:
                raise LiquidControlError(f"the card names two channels {name!r}; the node maps channels by name.")
            out[name] = (i, j, entry)
    return out


def _channel(name: str, index: int, offset: int, layout: dict[str, Any], spec: dict[str, Any],
             card: PolicyCard) -> Channel:
    what = f"input channel {name!r}"
    if offset == IMAGE_OFFSET:
        return _image_channel(name, index, layout, spec)
    bad = sorted(set(spec) - _CHANNEL_KEYS)
    if bad:
        raise LiquidControlError(f"{what} has unknown setting {bad[0]!r}; expected {', '.join(sorted(_CHANNEL_KEYS))}.")
    unit = spec.get("unit")
    if unit is not None and unit != layout.get("unit"):
        raise LiquidControlError(
            f"{what} is configured in unit {unit!r} but the card reads it in {layout.get('unit')!r}.")
    source = spec.get("source", "topic")
    if source == PREVIOUS_ACTION:
        actions = [a["name"] for a in card.action]
        target = spec.get("field")
        if target not in actions:
            raise LiquidControlError(
                f"{what} reads the previous action, so its field must name an action of the card "
                f"({', '.join(actions)}), got {target!r}.")
        initial = spec.get("initial", 0.0)
        if isinstance(initial, bool) or not isinstance(initial, (int, float)) or not math.isfinite(initial):
            raise LiquidControlError(f"{what} initial must be a finite number, got {initial!r}.")
        return Channel(name, index, offset, field=str(target), source=source, initial=float(initial))
    if source != "topic":
        raise LiquidControlError(f"{what} has source {source!r}; expected 'topic' or {PREVIOUS_ACTION!r}.")
    topic, msg_type = spec.get("topic"), spec.get("type")
    if not isinstance(topic, str) or not topic:
        raise LiquidControlError(f"{what} needs a topic name (inputs.{name}.topic), got {topic!r}.")
    if not isinstance(msg_type, str) or not _MSG_TYPE.fullmatch(msg_type):
        raise LiquidControlError(
            f"{what} needs a message type such as 'nav_msgs/msg/Odometry' (inputs.{name}.type), got {msg_type!r}.")
    transform = spec.get("transform", "value")
    if transform not in TRANSFORMS:
        raise LiquidControlError(f"{what} has unknown transform {transform!r}; expected one of {', '.join(TRANSFORMS)}.")
    make_extractor(spec.get("field"), transform, layout, what)  # type: ignore[arg-type]  # validates path and limits
    return Channel(name, index, offset, topic, msg_type, spec["field"], transform)


def _image_channel(name: str, index: int, inp: dict[str, Any], spec: dict[str, Any]) -> Channel:
    """A card image input fed whole from one ``sensor_msgs/Image`` topic; optional ``encoding``,
    ``height`` and ``width`` in the parameters are checked against the card here, at start-up."""
    what = f"input channel {name!r}"
    height, width = int(inp["shape"][0]), int(inp["shape"][1])
    card_says = f"the card's image input, {height}x{width} (height x width) {inp['layout'].get('channels', 'RGB')}"
    bad = sorted(set(spec) - _IMAGE_KEYS)
    if bad:
        raise LiquidControlError(
            f"{what} is {card_says}, so its settings are {', '.join(sorted(_IMAGE_KEYS))}; got {bad[0]!r}.")
    topic, msg_type = spec.get("topic"), spec.get("type", IMAGE_MSG)
    if not isinstance(topic, str) or not topic:
        raise LiquidControlError(f"{what} needs a topic name (inputs.{name}.topic), got {topic!r}.")
    if msg_type != IMAGE_MSG:
        raise LiquidControlError(f"{what} is {card_says}; it must come from a {IMAGE_MSG} topic, got type {msg_type!r}.")
    for key, card_value in (("height", height), ("width", width)):
        given = spec.get(key)
        if given is not None and given != card_value:
            raise LiquidControlError(
                f"{what} is configured as {key} {given!r} but it is {card_says}; resize on the camera side "
                f"(e.g. image_proc's resize node) and set {key} {card_value}.")
    encoding = spec.get("encoding", "")
    if not isinstance(encoding, str):
        raise LiquidControlError(f"{what} encoding must be a string such as 'rgb8', got {encoding!r}.")
    image = ImageSpec.from_card_input(inp, encoding)
    return Channel(name, index, IMAGE_OFFSET, topic, IMAGE_MSG, image=image)


def _command(params: Mapping[str, Any], card: PolicyCard) -> CommandSpec:
    extra = sorted(k for k in params if k.startswith("command.")
                   and k[len("command."):].partition(".")[0] not in _COMMAND_KEYS)
    if extra:
        raise LiquidControlError(f"unknown parameter {extra[0]}; expected command.{', command.'.join(sorted(_COMMAND_KEYS))}.")
    spec = CommandSpec(
        kind=_text(params, "command.type", "twist_stamped", COMMAND_TYPES),
        topic=_text(params, "command.topic", "cmd_vel"),
        frame_id=_text(params, "command.frame_id", "base_link"),
        stamp=_text(params, "command.stamp", "now", COMMAND_STAMPS),
    )
    names = [a["name"] for a in card.action]
    given = {k[len("command.fields."):]: v for k, v in params.items() if k.startswith("command.fields.")}
    extra_actions = sorted(set(given) - set(names))
    if extra_actions:
        raise LiquidControlError(
            f"command.fields maps action {extra_actions[0]!r} but the card's actions are {', '.join(names)}.")
    used: set[str] = set()
    for name in names:
        path = given.get(name)
        if path is None:
            raise LiquidControlError(f"the card's action {name!r} has no command field (set command.fields.{name}).")
        _check_command_field(spec.kind, path, name)
        if spec.kind == "joint_state" and spec.fields and path != spec.fields[0]:
            raise LiquidControlError(
                f"a joint_state command puts every action in one array, but command.fields gives "
                f"{names[0]!r} {spec.fields[0]!r} and {name!r} {path!r}.")
        if path in used and spec.kind != "joint_state":
            raise LiquidControlError(f"command field {path!r} is given to two actions.")
        used.add(path)
        spec.fields.append(path)
    stop = params.get("command.stop")
    if stop is None:
        stop = [0.0] * len(names)
    if (not isinstance(stop, (list, tuple)) or len(stop) != len(names)
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in stop)):
        raise LiquidControlError(
            f"command.stop must list {len(names)} finite numbers (one per action, in the action's unit), got {stop!r}.")
    spec.stop = [float(v) for v in stop]
    spec.constant = _constants(params, spec)
    return spec


def _constants(params: Mapping[str, Any], spec: CommandSpec) -> dict[str, float]:
    given = {k[len("command.constant."):]: v for k, v in params.items() if k.startswith("command.constant.")}
    if given and spec.kind not in ("twist_stamped", "twist"):
        raise LiquidControlError(f"command.constant fills Twist fields; a {spec.kind} command has none.")
    out: dict[str, float] = {}
    for path, value in given.items():
        if path not in TWIST_FIELDS:
            raise LiquidControlError(
                f"command.constant.{path} must name one of {', '.join(TWIST_FIELDS)}, got {path!r}.")
        if path in spec.fields:
            raise LiquidControlError(f"command.constant.{path} is a field an action already fills.")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise LiquidControlError(f"command.constant.{path} must be a finite number, got {value!r}.")
        out[path] = float(value)
    return out


def _check_command_field(kind: str, path: Any, action: str) -> None:
    if kind == "joint_state":
        if path not in JOINT_FIELDS:
            raise LiquidControlError(
                f"command.fields.{action} must be one of {', '.join(JOINT_FIELDS)} for a joint_state command "
                f"(each action is the joint of its name), got {path!r}.")
        return
    if kind == "float32_array":
        if not isinstance(path, str) or not _DATA_FIELD.fullmatch(path):
            raise LiquidControlError(
                f"command.fields.{action} must be 'data[<index>]' for a float32_array command, got {path!r}.")
        return
    parse_path(path, f"command.fields.{action}")
    if path not in TWIST_FIELDS:
        raise LiquidControlError(
            f"command.fields.{action} must be one of {', '.join(TWIST_FIELDS)} for a {kind} command, got {path!r}.")
    make_setter(path, f"command.fields.{action}")
