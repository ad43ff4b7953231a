"""The topic -> observation / action mapping of a ROS 2 bag (a small YAML or JSON file).

One file says, for every observation channel and every action of a task
(by the names of its layout), which topic and which message field carries
it. The recorder writes bags through it and the reader trains from bags
through it, so a bag recorded on a robot trains exactly like one recorded
in simulation once its mapping names the robot's topics::

    version: 1
    env_id: liquidcontrol/Parking-v0        # optional: the env the channel names belong to
    topics:                                  # message type of every topic used below
      /odom: {type: nav_msgs/msg/Odometry, frame_id: slot, set: {child_frame_id: base_link}}
      /cmd_vel: {type: geometry_msgs/msg/TwistStamped, frame_id: base_link}
    episodes: {topic: /liquidcontrol/episode}   # or {gap_s: 1.0}
    observation:                             # one entry per channel, in the layout's order
      - {name: x, topic: /odom, field: pose.pose.position.x}
      - {name: cos_heading, topic: /odom, field: pose.pose.orientation, convert: cos_yaw}
    action:
      - {name: steering, topic: /cmd_vel, field: twist.angular.z, scale: 0.38}

Value of a channel = ``convert(field) / scale``. ``field`` is a dotted path
with optional indices (``position[0]``, ``data[3]``); ``convert`` is
``none`` (a number), ``yaw`` / ``cos_yaw`` / ``sin_yaw`` of a
``geometry_msgs/Quaternion``, or ``range`` for a ``sensor_msgs/Range``
reading (REP 117: +inf, no echo, reads the message's ``max_range``; -inf,
too close, its ``min_range``; NaN stays an error). ``frame_id`` and ``set`` (constant fields)
are only used when writing. The first action topic is the step clock: each
of its messages is one step, and every other channel takes the latest
message of its topic stamped at or before that step (zero-order hold).
Episodes start at each message of ``episodes.topic`` (a ``std_msgs/String``),
or wherever the step clock pauses for more than ``episodes.gap_s`` seconds.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from liquidcontrol.errors import LiquidControlError

MAPPING_VERSION = 1
CONVERTERS = ("none", "yaw", "cos_yaw", "sin_yaw", "range")
EPISODE_TYPE = "std_msgs/msg/String"
#: Topics of the generic mapping (no standard message fits an arbitrary vector).
GENERIC_OBS_TOPIC, GENERIC_ACT_TOPIC = "/liquidcontrol/observation", "/liquidcontrol/action"
GENERIC_EPISODE_TOPIC = "/liquidcontrol/episode"
_PATH = re.compile(r"^[A-Za-z_]\w*(\[\d+\])?(\.[A-Za-z_]\w*(\[\d+\])?)*$")
_TOPIC = re.compile(r"^/?[A-Za-z_~{][\w/{}~]*$")
_TYPE = re.compile(r"^\w+/msg/\w+$")


@dataclass(frozen=True)
class Channel:
    """One observation channel or action: where it lives in the bag and how to read it."""

    name: str
    topic: str
    field: str
    convert: str = "none"
    scale: float = 1.0

    def steps(self) -> list[str | int]:
        """The field path as attribute names and indices: ``a.b[2]`` -> ``['a', 'b', 2]``."""
        out: list[str | int] = []
        for part in self.field.split("."):
            name, _, index = part.partition("[")
            out.append(name)
            if index:
                out.append(int(index[:-1]))
        return out


@dataclass(frozen=True)
class TopicSpec:
    """A topic's message type, plus what the recorder writes into fields no channel fills."""

    type: str
    frame_id: str = ""
    set: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BagMapping:
    """A validated mapping (see the module docstring)."""

    topics: dict[str, TopicSpec]
    observation: tuple[Channel, ...]
    action: tuple[Channel, ...]
    episode_topic: str | None = None
    episode_gap_s: float | None = None
    env_id: str | None = None
    source: str = "mapping"

    @property
    def clock_topic(self) -> str:
        return self.action[0].topic

    def to_dict(self) -> dict[str, Any]:
        def channel(c: Channel) -> dict[str, Any]:
            entry: dict[str, Any] = {"name": c.name, "topic": c.topic, "field": c.field}
            if c.convert != "none":
                entry["convert"] = c.convert
            if c.scale != 1.0:
                entry["scale"] = c.scale
            return entry

        topics = {}
        for name, spec in self.topics.items():
            t: dict[str, Any] = {"type": spec.type}
            if spec.frame_id:
                t["frame_id"] = spec.frame_id
            if spec.set:
                t["set"] = dict(spec.set)
            topics[name] = t
        episodes: dict[str, Any] = ({"topic": self.episode_topic} if self.episode_topic
                                    else {"gap_s": self.episode_gap_s})
        out: dict[str, Any] = {"version": MAPPING_VERSION}
        if self.env_id:
            out["env_id"] = self.env_id
        out.update(topics=topics, episodes=episodes, observation=[channel(c) for c in self.observation],
                   action=[channel(c) for c in self.action])
        return out

    def check_layout(self, obs_names: list[str], act_names: list[str], what: str) -> None:
        """The channel names must be the task's layout names, in order."""
        for kind, chans, names in (("observation", self.observation, obs_names), ("action", self.action, act_names)):
            got = [c.name for c in chans]
            if got == names:
                continue
            missing = [n for n in names if n not in got]
            extra = [n for n in got if n not in names]
            if missing:
                raise LiquidControlError(f"{self.source} has no {kind} entry for {', '.join(map(repr, missing))} of "
                                         f"{what}; add one (name, topic, field) per channel.")
            if extra:
                raise LiquidControlError(f"{self.source} maps {kind} {', '.join(map(repr, extra))}, which {what} "
                                         f"does not have (its {kind} is {', '.join(names)}).")
            raise LiquidControlError(f"{self.source} lists the {kind} of {what} in another order; "
                                     f"expected {', '.join(names)}.")


# -- reading a mapping file --------------------------------------------------
def load_mapping(path: str | Path) -> BagMapping:
    """Read and validate a mapping file (``.yaml`` / ``.yml`` / ``.json``)."""
    path = Path(path)
    if not path.is_file():
        raise LiquidControlError(f"bag mapping file {path} does not exist.")
    text = path.read_text(encoding="utf-8", errors="replace")
    return parse_mapping(_parse_text(text, path), str(path))


def _parse_text(text: str, path: Path) -> Any:
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise LiquidControlError(f"bag mapping {path} is not valid JSON ({exc}).") from None
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        return YAML(typ="safe", pure=True).load(text)
    except YAMLError as exc:
        first = " ".join(str(exc).split())[:160]
        raise LiquidControlError(f"bag mapping {path} is not valid YAML ({first}).") from None


def parse_mapping(data: Any, source: str = "bag mapping") -> BagMapping:
    """Validate a mapping given as plain data (what :meth:`BagMapping.to_dict` returns)."""
    if not isinstance(data, dict):
        raise LiquidControlError(f"{source} must be a mapping with keys version, topics, episodes, observation, action.")
    if data.get("version") != MAPPING_VERSION:
        raise LiquidControlError(f"{source} must say 'version: {MAPPING_VERSION}', got {data.get('version')!r}.")
    unknown = sorted(set(data) - {"version", "env_id", "topics", "episodes", "observation", "action"})
    if unknown:
        raise LiquidControlError(f"{source} has unknown key(s) {', '.join(map(repr, unknown))}.")
    topics = _parse_topics(data.get("topics"), source)
    episode_topic, gap = _parse_episodes(data.get("episodes"), topics, source)
    obs = _parse_channels(data.get("observation"), "observation", topics, source)
    act = _parse_channels(data.get("action"), "action", topics, source)
    env_id = data.get("env_id")
    if env_id is not None and not isinstance(env_id, str):
        raise LiquidControlError(f"{source}: env_id must be a string, got {env_id!r}.")
    return BagMapping(topics, obs, act, episode_topic, gap, env_id, source)


def _parse_topics(raw: Any, source: str) -> dict[str, TopicSpec]:
    if not isinstance(raw, dict) or not raw:
        raise LiquidControlError(f"{source} needs 'topics': a mapping of topic name to {{type: pkg/msg/Type}}.")
    out = {}
    for name, spec in raw.items():
        if not isinstance(name, str) or not _TOPIC.match(name):
            raise LiquidControlError(f"{source}: {name!r} is not a valid ROS 2 topic name.")
        if not isinstance(spec, dict) or not isinstance(spec.get("type"), str) or not _TYPE.match(spec["type"]):
            raise LiquidControlError(f"{source}: topic {name} needs a message type such as "
                                     f"'type: nav_msgs/msg/Odometry', got {spec!r}.")
        extra = sorted(set(spec) - {"type", "frame_id", "set"})
        if extra:
            raise LiquidControlError(f"{source}: topic {name} has unknown key(s) {', '.join(map(repr, extra))}.")
        frame, consts = spec.get("frame_id", ""), spec.get("set", {})
        if not isinstance(frame, str) or not isinstance(consts, dict):
            raise LiquidControlError(f"{source}: topic {name} needs a string frame_id and a mapping 'set'.")
        out[name] = TopicSpec(spec["type"], frame, dict(consts))
    return out


def _parse_episodes(raw: Any, topics: dict[str, TopicSpec], source: str) -> tuple[str | None, float | None]:
    if not isinstance(raw, dict) or len(raw) != 1 or not ({"topic"} == set(raw) or {"gap_s"} == set(raw)):
        raise LiquidControlError(f"{source} needs 'episodes': either {{topic: NAME}} (a std_msgs/String per "
                                 "episode start) or {gap_s: SECONDS} (a pause of the step clock).")
    if "topic" in raw:
        topic = raw["topic"]
        if topic not in topics or topics[topic].type != EPISODE_TYPE:
            raise LiquidControlError(f"{source}: the episode topic {topic!r} must be listed under topics "
                                     f"with type {EPISODE_TYPE}.")
        return str(topic), None
    gap = raw["gap_s"]
    if isinstance(gap, bool) or not isinstance(gap, (int, float)) or not math.isfinite(gap) or gap <= 0:
        raise LiquidControlError(f"{source}: episodes.gap_s must be a positive number of seconds, got {gap!r}.")
    return None, float(gap)


def _parse_channels(raw: Any, kind: str, topics: dict[str, TopicSpec], source: str) -> tuple[Channel, ...]:
    if not isinstance(raw, list) or not raw:
        raise LiquidControlError(f"{source} needs '{kind}': a list of {{name, topic, field}} entries.")
    out, seen = [], set()
    for i, entry in enumerate(raw):
        where = f"{source}: {kind} entry {i}"
        if not isinstance(entry, dict):
            raise LiquidControlError(f"{where} must be a mapping with name, topic and field, got {entry!r}.")
        extra = sorted(set(entry) - {"name", "topic", "field", "convert", "scale"})
        if extra:
            raise LiquidControlError(f"{where} has unknown key(s) {', '.join(map(repr, extra))}.")
        name, topic, path = entry.get("name"), entry.get("topic"), entry.get("field")
        if not isinstance(name, str) or not name or name in seen:
            raise LiquidControlError(f"{where} needs a unique channel name, got {name!r}.")
        seen.add(name)
        if topic not in topics:
            raise LiquidControlError(f"{where} ({name}) reads topic {topic!r}, which is not listed under topics.")
        if not isinstance(path, str) or not _PATH.match(path):
            raise LiquidControlError(f"{where} ({name}) needs a field path such as 'pose.pose.position.x' or "
                                     f"'data[3]', got {path!r}.")
        convert = entry.get("convert", "none")
        if convert not in CONVERTERS:
            raise LiquidControlError(f"{where} ({name}): convert {convert!r} is not one of {', '.join(CONVERTERS)}.")
        scale = entry.get("scale", 1.0)
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale) or scale == 0:
            raise LiquidControlError(f"{where} ({name}): scale must be a finite non-zero number, got {scale!r}.")
        out.append(Channel(name, str(topic), path, str(convert), float(scale)))
    return tuple(out)


# -- the mapping a recording uses by default -----------------------------------
def generic_mapping(obs_names: list[str], act_names: list[str], env_id: str | None = None) -> BagMapping:
    """Observation and action vectors as ``std_msgs/Float32MultiArray`` (for tasks without a shipped mapping)."""
    topics = {GENERIC_OBS_TOPIC: TopicSpec("std_msgs/msg/Float32MultiArray"),
              GENERIC_ACT_TOPIC: TopicSpec("std_msgs/msg/Float32MultiArray"),
              GENERIC_EPISODE_TOPIC: TopicSpec(EPISODE_TYPE)}
    obs = tuple(Channel(n, GENERIC_OBS_TOPIC, f"data[{i}]") for i, n in enumerate(obs_names))
    act = tuple(Channel(n, GENERIC_ACT_TOPIC, f"data[{i}]") for i, n in enumerate(act_names))
    return BagMapping(topics, obs, act, GENERIC_EPISODE_TOPIC, None, env_id, "the generic bag mapping")


def shipped_mappings() -> list[tuple[str, BagMapping]]:
    """The mapping files shipped in ``liquidcontrol/bags/mappings/`` (file name, mapping)."""
    out = []
    folder = resources.files("liquidcontrol.bags") / "mappings"
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if item.name.endswith((".yaml", ".yml", ".json")):
            out.append((item.name, parse_mapping(_parse_text(item.read_text(encoding="utf-8"), Path(item.name)),
                                                 f"the shipped bag mapping {item.name}")))
    return out


def default_mapping(env_id: str, obs_names: list[str], act_names: list[str]) -> BagMapping:
    """The shipped mapping written for ``env_id`` whose channels are exactly these names,
    else the generic one."""
    for _name, mapping in shipped_mappings():
        if mapping.env_id == env_id and [c.name for c in mapping.observation] == obs_names \
                and [c.name for c in mapping.action] == act_names:
            return mapping
    return generic_mapping(obs_names, act_names, env_id)
