"""Read a ROS 2 bag into :class:`~liquidcontrol.train.data.Demonstrations` through a :class:`BagMapping`.

Each message of the step-clock topic (the first action topic) is one step;
every other channel takes the latest message of its topic stamped at or
before the step, within the same episode (a step before every input has
arrived in its episode is dropped and counted). Stamps are ``header.stamp``
where the message has one, else the bag's log time. ``dt`` of a step is
the time since the previous step of its episode; the first step of an
episode gets the median step interval of that episode (the bag has no
earlier step to measure from).

Bad input gets one :class:`LiquidControlError` sentence: a path that is no
bag, a bag rosbags cannot read, a topic the mapping names that the bag
lacks or carries with another type, a field that is missing or not a
number, a NaN in a mapped channel, two steps on one stamp, an empty result.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from liquidcontrol.bags import messages as m
from liquidcontrol.bags.mapping import BagMapping, Channel, parse_mapping
from liquidcontrol.bags.writer import MAPPING_KEY, META_KEY
from liquidcontrol.errors import LiquidControlError
from liquidcontrol.progress import progress_bar
from liquidcontrol.train.data import Demonstrations, Episode


@dataclass
class _Topic:
    """Stamps [n] (ns, sorted) and channel values [n, k] of one topic."""

    stamps: np.ndarray
    values: np.ndarray
    channels: list[Channel]


def is_bag(path: str | Path) -> bool:
    """A rosbag2 folder (``metadata.yaml``) or a single ``.mcap`` file."""
    p = Path(path)
    return (p.is_dir() and (p / "metadata.yaml").is_file()) or (p.is_file() and p.suffix == ".mcap")


def bag_folder(path: str | Path) -> Path:
    """The path rosbags opens: a bag folder, or a bare ``.mcap`` file (a file inside a bag folder
    opens the folder, which holds the metadata)."""
    p = Path(path)
    if not p.exists():
        raise LiquidControlError(f"bag {p} does not exist.")
    if not is_bag(p):
        raise LiquidControlError(f"{p} is not a ROS 2 bag (a folder with metadata.yaml, or an .mcap file).")
    if p.is_file() and (p.parent / "metadata.yaml").is_file():
        return p.parent
    return p


def bag_metadata(path: str | Path) -> tuple[BagMapping | None, dict[str, Any]]:
    """The mapping and provenance a liquidcontrol recording stored in the bag (None, {} for other bags)."""
    from rosbags.rosbag2 import Reader

    folder = bag_folder(path)
    try:
        with Reader(folder) as reader:
            custom = dict(getattr(getattr(reader.storage, "metadata", None), "custom", None) or {})
    except Exception as exc:  # rosbags raises several error types for unreadable bags
        raise LiquidControlError(f"{folder} is not a readable ROS 2 bag ({_first_line(exc)}).") from None
    mapping = None
    try:
        if MAPPING_KEY in custom:
            mapping = parse_mapping(json.loads(custom[MAPPING_KEY]), f"the mapping stored in {folder}")
        meta = json.loads(custom.get(META_KEY, "{}"))
    except json.JSONDecodeError:
        raise LiquidControlError(f"the liquidcontrol metadata stored in {folder} is corrupt.") from None
    return mapping, meta if isinstance(meta, dict) else {}


def read_bag(path: str | Path, mapping: BagMapping | None, obs_names: Sequence[str], act_names: Sequence[str],
             what: str = "the task", progress: bool = True) -> Demonstrations:
    """Episodes of the bag at ``path``; ``mapping`` None = the one the recording stored."""
    folder = bag_folder(path)
    stored, meta = bag_metadata(folder)
    mapping = mapping or stored
    if mapping is None:
        raise LiquidControlError(f"bag {folder} was not recorded by liquidcontrol; pass a mapping file "
                                 "(--mapping) naming its topics and fields.")
    mapping.check_layout(list(obs_names), list(act_names), what)
    topics, episode_stamps = _read_topics(folder, mapping, progress)
    demos, dropped = _assemble(folder, mapping, topics, episode_stamps)
    demos.meta = {**{k: v for k, v in meta.items() if k in ("env_id", "task")}, "source": "ros2 bag",
                  "bag": str(folder), "mapping": mapping.source, "dropped_steps": dropped}
    return demos


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:160]


def _read_topics(folder: Path, mapping: BagMapping, progress: bool) -> tuple[dict[str, _Topic], np.ndarray | None]:
    from rosbags.rosbag2 import Reader

    channels: dict[str, list[Channel]] = {}
    for c in (*mapping.observation, *mapping.action):
        channels.setdefault(c.topic, []).append(c)
    wanted = set(channels) | ({mapping.episode_topic} if mapping.episode_topic else set())
    raw: dict[str, tuple[list[int], list[list[float]]]] = {t: ([], []) for t in wanted}
    store = m.typestore()
    try:
        reader = Reader(folder)
        reader.open()
    except Exception as exc:
        raise LiquidControlError(f"{folder} is not a readable ROS 2 bag ({_first_line(exc)}).") from None
    try:
        conns = _check_connections(folder, mapping, reader.connections, wanted)
        for conn in conns:
            if conn.msgtype not in store.fielddefs:
                raise LiquidControlError(f"topic {conn.topic} of bag {folder} carries {conn.msgtype}, which is not a "
                                         "standard ROS 2 message type; map standard messages only.")
        with progress_bar(None, "read bag", progress, unit="msg") as bar:
            for k, (conn, log_ns, data) in enumerate(reader.messages(connections=conns)):
                try:
                    msg = store.deserialize_cdr(data, conn.msgtype)
                except Exception as exc:
                    raise LiquidControlError(f"message {k} on topic {conn.topic} of bag {folder} cannot be "
                                             f"decoded as {conn.msgtype} ({_first_line(exc)}).") from None
                stamps, values = raw[conn.topic]
                stamps.append(m.message_stamp(msg, log_ns))
                values.append([m.channel_value(msg, c, conn.msgtype) for c in channels.get(conn.topic, [])])
                if bar is not None and (k + 1) % 1000 == 0:
                    bar.update(1000)
            if bar is not None:
                bar.update(sum(len(v[0]) for v in raw.values()) % 1000)
    except LiquidControlError:
        raise
    except Exception as exc:
        raise LiquidControlError(f"bag {folder} is corrupt or truncated ({_first_line(exc)}).") from None
    finally:
        reader.close()
    topics = {}
    for t, chans in channels.items():
        stamps, values = raw[t]
        if not stamps:
            raise LiquidControlError(f"topic {t} of bag {folder} has no messages, but the mapping reads "
                                     f"{', '.join(c.name for c in chans)} from it.")
        order = np.argsort(np.asarray(stamps, np.int64), kind="stable")
        topics[t] = _Topic(np.asarray(stamps, np.int64)[order], np.asarray(values, np.float64)[order], chans)
    markers = np.sort(np.asarray(raw[mapping.episode_topic][0], np.int64)) if mapping.episode_topic else None
    return topics, markers


def _check_connections(folder: Path, mapping: BagMapping, connections: Any, wanted: set[str]) -> list[Any]:
    found: dict[str, list[Any]] = {}
    for conn in connections:
        if conn.topic in wanted:
            want = mapping.topics[conn.topic].type
            if conn.msgtype != want:
                raise LiquidControlError(f"topic {conn.topic} of bag {folder} carries {conn.msgtype}, but the "
                                         f"mapping expects {want}.")
            found.setdefault(conn.topic, []).append(conn)
    missing = sorted(wanted - set(found))
    if missing:
        have = ", ".join(sorted({c.topic for c in connections})) or "none"
        raise LiquidControlError(f"bag {folder} has no topic {', '.join(missing)} named by {mapping.source} "
                                 f"(its topics: {have}).")
    return [c for conns in found.values() for c in conns]


def _episode_starts(mapping: BagMapping, clock: np.ndarray, markers: np.ndarray | None, folder: Path) -> np.ndarray:
    if markers is not None:
        if markers.size == 0:
            raise LiquidControlError(f"bag {folder} has no message on the episode topic {mapping.episode_topic}.")
        return markers
    assert mapping.episode_gap_s is not None
    gaps = np.flatnonzero(np.diff(clock) > mapping.episode_gap_s * m.NS) + 1
    return clock[np.concatenate([[0], gaps])]


def _assemble(folder: Path, mapping: BagMapping, topics: dict[str, _Topic],
              markers: np.ndarray | None) -> tuple[Demonstrations, int]:
    clock = topics[mapping.clock_topic].stamps
    if np.any(np.diff(clock) == 0):
        t = clock[np.flatnonzero(np.diff(clock) == 0)[0]] / m.NS
        raise LiquidControlError(f"two messages on the step topic {mapping.clock_topic} of bag {folder} share the "
                                 f"stamp {t:.9f} s; each step needs a later stamp than the one before.")
    starts = _episode_starts(mapping, clock, markers, folder)
    episode = np.searchsorted(starts, clock, side="right") - 1
    valid = episode >= 0
    start_of_step = np.where(valid, starts[np.maximum(episode, 0)], 0)
    columns: dict[Channel, np.ndarray] = {}  # keyed by channel: actions may share observation names
    for topic in topics.values():
        idx = np.searchsorted(topic.stamps, clock, side="right") - 1
        ok = idx >= 0
        ok[ok] &= topic.stamps[idx[ok]] >= start_of_step[ok]
        valid &= ok
        for j, c in enumerate(topic.channels):
            columns[c] = topic.values[np.maximum(idx, 0), j]
    obs = np.stack([columns[c] for c in mapping.observation], axis=1)
    act = np.stack([columns[c] for c in mapping.action], axis=1)
    _check_finite(folder, mapping, obs, act, clock, valid)
    demos = Demonstrations()
    for e in np.unique(episode[valid]):
        rows = np.flatnonzero(valid & (episode == e))
        stamps = clock[rows]
        dt = np.diff(stamps) / m.NS
        first = float(np.median(dt)) if dt.size else float(np.median(np.diff(clock)) / m.NS) if clock.size > 1 else 0.0
        if first <= 0:
            raise LiquidControlError(f"bag {folder} has a one-step episode and no other step to take its dt from.")
        demos.add(Episode(obs[rows].astype(np.float32), act[rows].astype(np.float32),
                          np.concatenate([[first], dt]).astype(np.float32)))
    if not demos.episodes:
        raise LiquidControlError(f"bag {folder} gives no step with every mapped input present; check the topics "
                                 "and the episode markers.")
    return demos, int((~valid).sum())


def _check_finite(folder: Path, mapping: BagMapping, obs: np.ndarray, act: np.ndarray, clock: np.ndarray,
                  valid: np.ndarray) -> None:
    for arr, chans in ((obs, mapping.observation), (act, mapping.action)):
        bad = ~np.isfinite(arr.astype(np.float32)) & valid[:, None]
        if bad.any():
            row, col = np.argwhere(bad)[0]
            c = chans[col]
            raise LiquidControlError(f"bag {folder}: {c.name!r} (topic {c.topic}, field {c.field}) is not a finite "
                                     f"float32 at {clock[row] / m.NS:.3f} s; fix or drop that message.")
