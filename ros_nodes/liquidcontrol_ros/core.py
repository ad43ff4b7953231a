"""The policy node's logic in plain Python: no ROS import, so it is tested everywhere.

The rclpy adapter (``policy_node``) hands every received message to
:meth:`PolicyCore.on_message` and calls :meth:`PolicyCore.tick` from its
timer; times are seconds on the node's clock.

Per tick, in order (the first that applies decides the command):

1. an input not received within ``timeout`` seconds (or not since the last
   reset) -> the stop command, reason ``stale``; the latest image on an
   image topic not of the card's size and encoding -> the stop command,
   reason ``image`` (counted in ``image_stops``; each such message in
   ``image_rejected``);
2. a non-finite observation -> the stop command and a state reset;
3. the policy step with the measured ``dt`` (seconds since the previous
   policy step; the card's period after a reset; clipped to ``max_dt``);
   a non-finite action -> the stop command and a state reset;
4. the action clamped to the card's ``low`` / ``high``, then scaled to
   physical units: ``offset + scale * action``.

Messages are dropped and counted, never raised on: ``malformed`` (no
number at a configured field), ``out_of_order`` (stamp older than the last
accepted on that topic), ``future`` (stamp more than ``future_tolerance``
ahead of the clock) and ``too_old`` (stamp more than ``timeout`` behind).
A zero stamp means "not stamped" and skips the stamp checks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.runtime import PolicyRunner
from liquidcontrol_ros.config import PREVIOUS_ACTION, NodeConfig, bind_to_card, parse_config
from liquidcontrol_ros.fields import MalformedMessage, make_extractor
from liquidcontrol_ros.images import ImageMismatch, ImageSpec

DROP_REASONS = ("malformed", "out_of_order", "future", "too_old")
_LATENCY_WINDOW = 1000


@dataclass
class Command:
    """What one tick publishes: ``values`` in the action's physical units (card order)."""

    values: list[float]
    stopped: bool
    reason: str = ""          # why it stopped ("" when the policy drove)
    stamp: float | None = None  # seconds: oldest input stamp used (None: not stamped)
    action: np.ndarray | None = None  # the clamped action in env units (None when stopped)


class _Topic:
    """Extractors of one subscribed topic and its freshness."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.extractors: list[tuple[Callable[[Any], float], np.ndarray, int]] = []
        self.received_at: float | None = None  # node clock, None: nothing since the last reset
        self.stamp: float | None = None
        self.stale_ticks = 0
        self.image: tuple[ImageSpec, np.ndarray] | None = None  # an image topic: its spec and buffer
        self.image_problem = ""  # why the latest image could not be used ("" when it could)


class PolicyCore:
    """A bundle, its topic mapping and the safety rules; see the module docstring."""

    def __init__(self, params: Mapping[str, Any], runner: PolicyRunner | None = None) -> None:
        config = parse_config(params)
        self.runner = runner if runner is not None else PolicyRunner(config.bundle, backend=config.backend)
        self.card = self.runner.card
        self.config: NodeConfig = bind_to_card(config, params, self.card)
        self.period = float(self.card.control_period_s)
        self._buffers = [np.zeros(inp["shape"], dtype=np.uint8) if inp["dtype"] == "uint8"
                         else np.zeros(int(inp["shape"][0]), dtype=np.float32) for inp in self.card.inputs]
        self._keys = [inp["key"] for inp in self.card.inputs]
        self.topics: dict[str, _Topic] = {}
        self._previous: list[tuple[np.ndarray, int, int, float]] = []
        names = [a["name"] for a in self.card.action]
        for ch in self.config.channels:
            buf = self._buffers[ch.input_index]
            if ch.source == PREVIOUS_ACTION:
                self._previous.append((buf, ch.offset, names.index(ch.field), ch.initial))
                continue
            if ch.image is not None:
                self.topics.setdefault(ch.topic, _Topic(ch.topic)).image = (ch.image, buf)
                continue
            layout = self.card.inputs[ch.input_index]["layout"][ch.offset]
            topic = self.topics.setdefault(ch.topic, _Topic(ch.topic))
            topic.extractors.append((make_extractor(ch.field, ch.transform, layout, ch.name), buf, ch.offset))
        act = self.card.action
        self._low = np.array([-math.inf if a.get("low") is None else a["low"] for a in act], dtype=np.float64)
        self._high = np.array([math.inf if a.get("high") is None else a["high"] for a in act], dtype=np.float64)
        self._scale = np.array([a.get("scale", 1.0) for a in act], dtype=np.float64)
        self._offset = np.array([a.get("offset", 0.0) for a in act], dtype=np.float64)
        self.stop_values = list(self.config.command.stop)
        # The stop command in env units, for previous-action channels after a stop.
        self._stop_action = (np.array(self.stop_values) - self._offset) / np.where(self._scale == 0, 1, self._scale)
        self.dropped = dict.fromkeys(DROP_REASONS, 0)
        self.steps = self.stale_stops = self.non_finite_stops = self.clamped = self.dt_clipped = 0
        self.image_stops = self.image_rejected = 0
        self.latencies: list[float] = []
        self.last_reason = ""
        self.last_dt: float | None = None
        self._last_step: float | None = None
        self.reset()

    # -- inputs -----------------------------------------------------------
    def on_message(self, topic: str, msg: Any, stamp: float | None, now: float) -> bool:
        """Take one message; False when it was dropped (counted in ``dropped``)."""
        entry = self.topics.get(topic)
        if entry is None:
            return False
        if stamp is not None and stamp != 0.0 and self.config.check_stamps:
            reason = self._stamp_problem(entry, stamp, now)
            if reason:
                self.dropped[reason] += 1
                return False
        if entry.image is not None:
            return self._take_image(entry, entry.image, msg, stamp, now)
        try:
            values = [extract(msg) for extract, _, _ in entry.extractors]
        except MalformedMessage:
            self.dropped["malformed"] += 1
            return False
        for (_, buf, offset), value in zip(entry.extractors, values):
            buf[offset] = value
        entry.received_at = now
        if stamp:
            entry.stamp = stamp
        return True

    def _take_image(self, entry: _Topic, image: tuple[ImageSpec, np.ndarray], msg: Any, stamp: float | None,
                    now: float) -> bool:
        """An image that does not fit the card is not dropped silently: it marks the topic so the
        next tick stops (the camera is there but sends the wrong thing)."""
        spec, buf = image
        try:
            spec.decode(msg, buf)
        except ImageMismatch as exc:
            self.image_rejected += 1
            entry.image_problem = str(exc)
            entry.received_at = now
            return False
        entry.image_problem = ""
        entry.received_at = now
        if stamp:
            entry.stamp = stamp
        return True

    def _stamp_problem(self, entry: _Topic, stamp: float, now: float) -> str:
        if not math.isfinite(stamp):
            return "malformed"
        if stamp > now + self.config.future_tolerance:
            return "future"
        if stamp < now - self.config.timeout:
            return "too_old"
        if entry.stamp is not None and stamp < entry.stamp:
            return "out_of_order"
        return ""

    # -- the control step ------------------------------------------------
    def tick(self, now: float) -> Command:
        """One timer tick at clock time ``now`` (seconds): the command to publish."""
        stale = self._stale_inputs(now)
        if stale:
            self.stale_stops += 1
            return self._stop("stale input: " + stale, reset=False)
        bad_images = [f"{t.name} sent {t.image_problem}" for t in self.topics.values() if t.image_problem]
        if bad_images:
            self.image_stops += 1
            return self._stop("unusable image: " + "; ".join(bad_images), reset=False)
        obs = self._observation()
        if not all(np.isfinite(b).all() for b in self._buffers):
            self.non_finite_stops += 1
            return self._stop("non-finite observation: " + self._non_finite_channels(), reset=True)
        dt = self._measured_dt(now)
        try:
            raw = self.runner.step(obs, dt)
        except LiquidControlError as exc:  # a non-finite action; the runner reset its state
            self.non_finite_stops += 1
            return self._stop(f"policy step failed: {exc}", reset=True)
        action = np.asarray(raw, dtype=np.float64)
        clamped = np.minimum(np.maximum(action, self._low), self._high)
        if not np.array_equal(clamped, action):
            self.clamped += 1
        self._last_step = now
        self.steps += 1
        self.last_reason = ""
        for buf, offset, index, _ in self._previous:
            buf[offset] = clamped[index]
        values = (self._offset + self._scale * clamped).tolist()
        return Command(values, False, "", self._oldest_stamp(), clamped)

    def _stale_inputs(self, now: float) -> str:
        parts = []
        for t in self.topics.values():
            if t.received_at is None:
                parts.append(f"{t.name} (nothing since start or reset)")
            elif now - t.received_at > self.config.timeout:
                parts.append(f"{t.name} ({now - t.received_at:.3f} s old)")
            else:
                continue
            t.stale_ticks += 1
        return ", ".join(parts)

    def _observation(self) -> Any:
        if self.card.is_dict:
            return {key: buf for key, buf in zip(self._keys, self._buffers)}
        return self._buffers[0]

    def _non_finite_channels(self) -> str:
        bad = [ch.name for ch in self.config.channels if ch.image is None
               and not math.isfinite(float(self._buffers[ch.input_index][ch.offset]))]
        return ", ".join(bad)

    def _measured_dt(self, now: float) -> float:
        if self._last_step is None:
            dt = self.period
        else:
            dt = now - self._last_step
            if not dt > 0:  # a clock that did not move (or went back): the nominal period
                dt = self.period
        if dt > self.config.max_dt:
            self.dt_clipped += 1
            dt = self.config.max_dt
        self.last_dt = dt
        return dt

    def _oldest_stamp(self) -> float | None:
        stamps = [t.stamp for t in self.topics.values() if t.stamp is not None]
        return min(stamps) if stamps else None

    def _stop(self, reason: str, reset: bool) -> Command:
        if reset:
            self.runner.reset()
            self._last_step = None
        for buf, offset, index, _ in self._previous:
            buf[offset] = self._stop_action[index]
        self.last_reason = reason
        return Command(list(self.stop_values), True, reason)

    # -- service and diagnostics ------------------------------------------
    def reset(self) -> None:
        """Zero the recurrent state and wait for a fresh message on every input (the reset service)."""
        self.runner.reset()
        self._last_step = None
        for t in self.topics.values():
            t.received_at = None
            t.image_problem = ""
        for buf, offset, _, initial in self._previous:
            buf[offset] = initial

    def record_latency(self, seconds: float) -> None:
        """The adapter's measured loop time for one tick (kept for the last 1000 ticks)."""
        self.latencies.append(seconds)
        if len(self.latencies) > _LATENCY_WINDOW:
            del self.latencies[: len(self.latencies) - _LATENCY_WINDOW]

    def diagnostics(self) -> tuple[bool, str, dict[str, str]]:
        """(ok, one-line summary, key/value pairs) for a ``diagnostic_msgs`` status."""
        values = {"policy_steps": str(self.steps), "stale_stops": str(self.stale_stops),
                  "non_finite_stops": str(self.non_finite_stops), "clamped_actions": str(self.clamped),
                  "dt_clipped": str(self.dt_clipped)}
        values.update({f"dropped_{k}": str(v) for k, v in self.dropped.items()})
        if any(t.image is not None for t in self.topics.values()):
            values.update({"image_rejected": str(self.image_rejected), "image_stops": str(self.image_stops)})
        values.update({f"stale_ticks {t.name}": str(t.stale_ticks) for t in self.topics.values()})
        if self.latencies:
            lat = np.array(self.latencies) * 1e3
            values.update({"loop_latency_p50_ms": f"{np.percentile(lat, 50):.3f}",
                           "loop_latency_p99_ms": f"{np.percentile(lat, 99):.3f}",
                           "loop_latency_max_ms": f"{lat.max():.3f}"})
        if self.last_dt is not None:
            values["last_dt_s"] = f"{self.last_dt:.6f}"
        ok = not self.last_reason
        return ok, ("running" if ok else "stopped: " + self.last_reason), values
