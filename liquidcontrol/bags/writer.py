"""Write demonstrations as a ROS 2 bag (rosbag2 folder, mcap storage) through a :class:`BagMapping`.

Every step of every episode becomes one message per mapped topic, all
stamped (``header.stamp`` and the bag's log time) with the simulation
clock: episodes follow each other on one clock with a pause of
:data:`EPISODE_PAUSE_S` between them, and each starts with a
``std_msgs/String`` on the episode topic holding a JSON object (``episode``
index, plus ``seed`` and ``expert_success`` when known). The mapping and
the recording's provenance are stored in the bag's metadata (custom data
keys :data:`MAPPING_KEY`, :data:`META_KEY`), so a bag recorded here trains
without a mapping file. The folder is written whole (temporary sibling +
rename): an interrupted recording leaves no half bag.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from liquidcontrol.bags import messages as m
from liquidcontrol.bags.mapping import BagMapping, Channel
from liquidcontrol.errors import LiquidControlError
from liquidcontrol.fileio import atomic_folder
from liquidcontrol.progress import progress_bar
from liquidcontrol.train.data import Demonstrations

MAPPING_KEY, META_KEY = "liquidcontrol.mapping", "liquidcontrol.meta"
EPISODE_PAUSE_S = 1.0
START_NS = m.NS  # the clock of the first episode starts at 1 s


class _TopicWriter:
    """Builds the message of one topic for one step."""

    def __init__(self, store: Any, topic: str, mapping: BagMapping, obs_index: dict[str, int],
                 act_index: dict[str, int]) -> None:
        self.store, self.topic = store, topic
        self.spec = mapping.topics[topic]
        self.fields: list[tuple[list[str | int], str, int, float]] = []  # path, source, column, scale
        self.headings: dict[str, dict[str, int]] = {}  # quaternion field -> {convert: obs column}
        for source, chans, index in (("obs", mapping.observation, obs_index), ("act", mapping.action, act_index)):
            for c in chans:
                if c.topic != topic:
                    continue
                if c.convert in ("none", "range"):
                    self.fields.append((c.steps(), source, index[c.name], c.scale))
                elif source == "act":
                    raise LiquidControlError(f"{mapping.source}: action {c.name!r} uses convert {c.convert}; "
                                             "actions are plain numbers.")
                else:
                    if c.scale != 1.0:
                        raise LiquidControlError(f"{mapping.source}: {c.name!r} converts a heading and cannot "
                                                 "also have a scale.")
                    self.headings.setdefault(c.field, {})[c.convert] = index[c.name]
        self.template = self._template()
        self.has_header = hasattr(self.template, "header")

    def _template(self) -> Any:
        msg = m.default_message(self.store, self.spec.type)
        for path, value in self.spec.set.items():
            steps = Channel("set", self.topic, str(path)).steps()
            try:
                current = m.get_path(msg, Channel(str(path), self.topic, str(path)), self.spec.type)
            except LiquidControlError as exc:
                raise LiquidControlError(f"cannot set {path} on topic {self.topic}: {exc}") from None
            if isinstance(current, np.ndarray):
                value = np.asarray(value, dtype=current.dtype)
            m.set_path(msg, steps, value)
        return msg

    def message(self, obs: np.ndarray, act: np.ndarray, ns: int) -> bytes:
        msg = self._fresh()
        if self.has_header:
            msg.header.stamp = m.stamp(self.store, ns)
            msg.header.frame_id = self.spec.frame_id
        for steps, source, col, scale in self.fields:
            row = obs if source == "obs" else act
            m.set_path(msg, steps, float(row[col]) * scale)
        for field_path, columns in self.headings.items():
            values = {k: float(obs[c]) for k, c in columns.items()}
            x, y, z, w = m.heading_quaternion(values.get("cos_yaw"), values.get("sin_yaw"), values.get("yaw"))
            quat = self.store.types["geometry_msgs/msg/Quaternion"](x=x, y=y, z=z, w=w)
            m.set_path(msg, Channel("q", self.topic, field_path).steps(), quat)
        return bytes(self.store.serialize_cdr(msg, self.spec.type))

    def _fresh(self) -> Any:
        import copy

        return copy.deepcopy(self.template)


def write_bag(path: str | Path, demos: Demonstrations, mapping: BagMapping, obs_names: Sequence[str],
              act_names: Sequence[str], episode_info: Sequence[dict[str, Any]] | None = None,
              meta: dict[str, Any] | None = None, progress: bool = True) -> Path:
    """Write ``demos`` to the bag folder ``path`` (replaced whole if it exists), or to one ``.mcap``
    file when ``path`` ends in ``.mcap`` (replaced in one rename); returns ``path``."""
    if not demos.episodes:
        raise LiquidControlError(f"refusing to write an empty demonstration set to {path}.")
    if isinstance(demos.episodes[0].obs, dict):
        raise LiquidControlError("bags carry flat vector observations only; this task has a Dict observation.")
    mapping.check_layout(list(obs_names), list(act_names), "the recorded task")
    store = m.typestore()
    obs_index = {n: i for i, n in enumerate(obs_names)}
    act_index = {n: i for i, n in enumerate(act_names)}
    used = {c.topic for c in (*mapping.observation, *mapping.action)}
    writers = {t: _TopicWriter(store, t, mapping, obs_index, act_index) for t in mapping.topics if t in used}
    dest = Path(path)

    def write(folder: Path) -> None:
        _write_folder(folder, demos, mapping, writers, store, episode_info, meta, progress)

    if dest.suffix == ".mcap":  # one self-contained .mcap file instead of a bag folder
        if dest.is_dir():
            raise LiquidControlError(f"{dest} is a folder; an .mcap output must be a file name.")
        dest.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=f".{dest.name}.", dir=dest.parent) as staging:
            write(Path(staging) / dest.stem)
            (mcap,) = (Path(staging) / dest.stem).glob("*.mcap")
            with open(mcap, "rb+") as fh:
                os.fsync(fh.fileno())
            # The bag folder's metadata.yaml is dropped: a bare .mcap is read with the task's mapping.
            os.replace(mcap, dest)
        return dest
    with atomic_folder(dest) as folder:
        inner = folder / dest.name
        write(inner)
        for item in inner.iterdir():
            item.rename(folder / item.name)
        inner.rmdir()
    return dest


def _write_folder(inner: Path, demos: Demonstrations, mapping: BagMapping, writers: dict[str, _TopicWriter],
                  store: Any, episode_info: Sequence[dict[str, Any]] | None, meta: dict[str, Any] | None,
                  progress: bool) -> None:
    """The rosbag2 folder ``inner`` (created here): metadata.yaml and one .mcap file."""
    from rosbags.rosbag2 import StoragePlugin, Writer

    with Writer(inner, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        writer.set_custom_data(MAPPING_KEY, json.dumps(mapping.to_dict(), allow_nan=False))
        writer.set_custom_data(META_KEY, json.dumps(meta or {}, allow_nan=False))
        conns = {t: writer.add_connection(t, mapping.topics[t].type, typestore=store) for t in writers}
        marker = (writer.add_connection(mapping.episode_topic, mapping.topics[mapping.episode_topic].type,
                                        typestore=store) if mapping.episode_topic else None)
        pause = max(EPISODE_PAUSE_S, 2 * (mapping.episode_gap_s or 0.0))
        clock = START_NS
        with progress_bar(len(demos), "write bag", progress) as bar:
            for e, episode in enumerate(demos.episodes):
                clock = _write_episode(writer, conns, marker, writers, store, episode, e,
                                       (episode_info or [{}] * len(demos))[e], clock)
                clock += int(round(pause * m.NS))
                if bar is not None:
                    bar.update(1)


def _write_episode(writer: Any, conns: dict[str, Any], marker: Any, writers: dict[str, _TopicWriter], store: Any,
                   episode: Any, index: int, info: dict[str, Any], clock: int) -> int:
    """Write one episode starting at ``clock`` ns; returns the stamp of its last step."""
    dt = np.asarray(episode.dt, dtype=np.float64)
    if not np.all(np.isfinite(dt)) or np.any(dt <= 0):
        raise LiquidControlError(f"episode {index} has a dt that is not a positive number of seconds.")
    if marker is not None:
        text = json.dumps({"episode": index, **info}, allow_nan=False)
        data = store.serialize_cdr(store.types["std_msgs/msg/String"](data=text), "std_msgs/msg/String")
        writer.write(marker, clock, bytes(data))
    obs, act = np.asarray(episode.obs), np.asarray(episode.act)
    ns = clock
    for k in range(len(episode)):
        if k > 0:
            ns += _interval_ns(dt[k])
        for topic, tw in writers.items():
            writer.write(conns[topic], ns, tw.message(obs[k], act[k], ns))
    return ns


def _interval_ns(dt: float) -> int:
    """``dt`` (float32 seconds) as whole nanoseconds that read back as the same float32, preferring
    a whole microsecond (float32(0.05) is 0.0500000007 s, but 50,000 us reads back as it too)."""
    want = np.float32(dt)
    us = int(round(float(want) * 1e6)) * 1000
    return us if np.float32(us / m.NS) == want else int(round(float(want) * m.NS))


def round_trip_error(a: Demonstrations, b: Demonstrations) -> dict[str, Any]:
    """How far two demonstration sets are apart (episodes, steps, largest |difference| per array)."""
    same_shape = len(a) == len(b) and all(len(x) == len(y) for x, y in zip(a.episodes, b.episodes))
    out: dict[str, Any] = {"episodes": [len(a), len(b)], "steps": [a.num_steps, b.num_steps],
                           "same_shape": same_shape}
    if not same_shape:
        return out
    for key in ("obs", "act", "dt"):
        diffs = [float(np.max(np.abs(np.asarray(getattr(x, key), np.float64) - np.asarray(getattr(y, key), np.float64))))
                 for x, y in zip(a.episodes, b.episodes)]
        out[f"max_abs_{key}"] = max(diffs) if diffs else 0.0
    out["identical"] = all(out[f"max_abs_{k}"] == 0.0 for k in ("obs", "act", "dt"))
    assert all(math.isfinite(out[f"max_abs_{k}"]) for k in ("obs", "act", "dt"))
    return out
