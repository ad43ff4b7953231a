"""PolicyCore at run time: watchdog, non-finite input, clamping, measured dt, dropped messages, reset."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import PARKING_BUNDLE, RANGES, feed_all, ns, odom, parking_params, quat
from liquidcontrol_ros.core import PolicyCore

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.runtime import PolicyRunner

PERIOD = 0.05


class ScriptedRunner:
    """The real bundle's card with a step that returns what the test says, recording every call."""

    def __init__(self, actions=None, fail=False):
        self.inner = PolicyRunner(PARKING_BUNDLE)
        self.card = self.inner.card
        self.actions, self.fail = actions, fail
        self.calls: list[tuple[np.ndarray, float]] = []
        self.resets = 0

    def reset(self):
        self.resets += 1
        self.inner.reset()

    def step(self, obs, dt):
        self.calls.append((np.array(obs), dt))
        if self.fail:
            raise LiquidControlError("the policy produced a non-finite action or state.")
        if self.actions is not None:
            return np.array(self.actions.pop(0), dtype=np.float32)
        return self.inner.step(obs, dt)


def test_no_message_yet_is_the_stop_command():
    core = PolicyCore(parking_params())
    cmd = core.tick(10.0)
    assert cmd.stopped and cmd.values == [0.0, 0.0] and "nothing since start" in cmd.reason
    assert core.stale_stops == 1 and core.steps == 0


def test_watchdog_stops_within_timeout_plus_one_period():
    core = PolicyCore(parking_params())
    last_message = 100.0
    feed_all(core, last_message)
    ticks = [last_message + 0.013 + k * PERIOD for k in range(30)]
    states = [core.tick(t).stopped for t in ticks]
    first_stop = ticks[states.index(True)]
    assert not any(states[:states.index(True)])
    assert 0.5 < first_stop - last_message <= 0.5 + PERIOD
    assert all(states[states.index(True):])
    assert "odom" in core.last_reason and "s old" in core.last_reason
    ok, summary, values = core.diagnostics()
    assert not ok and summary.startswith("stopped: stale input")
    assert int(values["stale_stops"]) == states.count(True) and int(values["stale_ticks odom"]) == states.count(True)


def test_one_silent_topic_is_enough_to_stop():
    core = PolicyCore(parking_params())
    feed_all(core, 1.0)
    for k in range(1, 12):  # everything but the rear rangefinder keeps talking
        t = 1.0 + k * PERIOD
        core.on_message("odom", odom(), None, t)
        core.on_message("joint_states", ns(position=[0.0]), None, t)
        for r in RANGES:
            if r != "rear":
                core.on_message(f"range/{r}", ns(range=1.0), None, t)
    cmd = core.tick(1.0 + 11 * PERIOD)
    assert cmd.stopped and cmd.reason == "stale input: range/rear (0.550 s old)"


def test_measured_dt_is_fed_to_the_policy():
    runner = ScriptedRunner()
    core = PolicyCore(parking_params(), runner=runner)
    times = [5.0, 5.07, 5.111, 5.2]
    for t in times:
        feed_all(core, t - 0.001)
        assert not core.tick(t).stopped
    dts = [dt for _, dt in runner.calls]
    assert dts[0] == PERIOD  # the first step after a reset: the card's period
    assert dts[1:] == pytest.approx(np.diff(times).tolist(), abs=1e-12)


def test_a_long_gap_is_clipped_to_max_dt():
    runner = ScriptedRunner()
    core = PolicyCore(parking_params(max_dt=0.2, timeout=5.0), runner=runner)
    feed_all(core, 1.0)
    core.tick(1.0)
    feed_all(core, 4.0)
    core.tick(4.0)
    assert runner.calls[-1][1] == 0.2 and core.dt_clipped == 1


def test_nan_observation_stops_and_resets_the_state():
    runner = ScriptedRunner()
    core = PolicyCore(parking_params(), runner=runner)
    feed_all(core, 1.0)
    core.tick(1.0)
    core.tick(1.05)
    assert np.abs(runner.inner.state).sum() > 0
    resets = runner.resets
    core.on_message("odom", odom(x=math.nan), None, 1.06)
    cmd = core.tick(1.1)
    assert cmd.stopped and cmd.values == [0.0, 0.0] and cmd.reason == "non-finite observation: x"
    assert runner.resets == resets + 1 and np.all(runner.inner.state == 0) and len(runner.calls) == 2
    core.on_message("odom", odom(), None, 1.12)
    assert not core.tick(1.15).stopped
    assert runner.calls[-1][1] == PERIOD  # restarted like an episode start


def test_infinite_speed_is_non_finite_too():
    core = PolicyCore(parking_params())
    feed_all(core, 1.0)
    core.on_message("odom", odom(v=math.inf), None, 1.0)
    assert core.tick(1.01).reason == "non-finite observation: speed"
    assert core.non_finite_stops == 1


def test_non_finite_action_stops_and_resets():
    runner = ScriptedRunner(fail=True)
    core = PolicyCore(parking_params(), runner=runner)
    feed_all(core, 1.0)
    cmd = core.tick(1.0)
    assert cmd.stopped and cmd.reason.startswith("policy step failed: the policy produced a non-finite")
    assert runner.resets == 2 and core.non_finite_stops == 1  # one at start-up, one for the failure


def test_actions_are_clamped_to_the_card_bounds_then_scaled():
    runner = ScriptedRunner(actions=[[5.0, -7.0], [0.5, -0.25], [-1.0000001, 1.0]])
    core = PolicyCore(parking_params(), runner=runner)
    feed_all(core, 1.0)
    out = [core.tick(1.0 + k * PERIOD).values for k in range(3)]
    assert out[0] == [0.38, -0.5]
    assert out[1] == pytest.approx([0.19, -0.125])
    assert out[2] == pytest.approx([-0.38, 0.5], abs=1e-12)
    assert core.clamped == 2


def test_malformed_messages_are_dropped_and_counted():
    core = PolicyCore(parking_params())
    feed_all(core, 1.0)
    before = core._buffers[0].copy()
    bad = [("odom", ns(pose=None)), ("joint_states", ns(position=[])), ("joint_states", ns(position=["a"])),
           ("range/front", ns(range="far")), ("range/front", ns()), ("range/left", None),
           ("odom", ns(pose=ns(pose=ns(position=ns(x=0.0, y=0.0, z=0.0),
                                       orientation=ns(x=0.0, y=0.0, z=0.0, w=0.0))),
                       twist=ns(twist=ns(linear=ns(x=0.0)))))]
    for topic, msg in bad:
        assert core.on_message(topic, msg, None, 1.01) is False
    assert core.dropped["malformed"] == len(bad)
    assert np.array_equal(core._buffers[0], before)
    assert core.on_message("not_mine", ns(), None, 1.0) is False


def test_stamp_checks_drop_out_of_order_future_and_old_messages():
    core = PolicyCore(parking_params())
    now = 1000.0
    assert core.on_message("range/front", ns(range=1.0), now - 0.01, now)
    assert not core.on_message("range/front", ns(range=1.5), now - 0.02, now)      # older than the last one
    assert not core.on_message("range/front", ns(range=1.5), now + 0.2, now)       # from the future
    assert not core.on_message("range/front", ns(range=1.5), now - 0.6, now)       # older than the timeout
    assert not core.on_message("range/front", ns(range=1.5), math.nan, now)
    assert core.dropped == {"malformed": 1, "out_of_order": 1, "future": 1, "too_old": 1}
    assert core._buffers[0][6] == 1.0
    assert core.on_message("range/front", ns(range=1.5), 0.0, now)  # a zero stamp: not stamped, accepted
    assert core.on_message("range/front", ns(range=1.25), now + 0.04, now)  # within future_tolerance
    unchecked = PolicyCore(parking_params(check_stamps=False))
    assert unchecked.on_message("range/front", ns(range=1.5), now + 99, now)


def test_range_readings_follow_rep_117():
    core = PolicyCore(parking_params())
    for reading, expected in ((math.inf, 2.0), (-math.inf, 0.0), (3.5, 2.0), (-0.1, 0.0), (0.7, 0.7)):
        core.on_message("range/left", ns(range=reading), None, 1.0)
        assert core._buffers[0][8] == pytest.approx(expected)
    core.on_message("range/left", ns(range=math.nan), None, 1.0)
    assert math.isnan(core._buffers[0][8])


def test_heading_transforms():
    core = PolicyCore(parking_params())
    core.on_message("odom", odom(yaw=2.5), None, 1.0)
    assert core._buffers[0][2:4] == pytest.approx([math.cos(2.5), math.sin(2.5)], abs=1e-6)
    unnormalised = odom()
    unnormalised.pose.pose.orientation = ns(x=0.0, y=0.0, z=2 * math.sin(0.3), w=2 * math.cos(0.3))
    core.on_message("odom", unnormalised, None, 1.0)
    assert core._buffers[0][2:4] == pytest.approx([math.cos(0.6), math.sin(0.6)], abs=1e-6)
    assert quat(0.0).w == 1.0


def test_reset_zeroes_the_state_and_waits_for_fresh_inputs():
    runner = ScriptedRunner()
    core = PolicyCore(parking_params(), runner=runner)
    feed_all(core, 1.0)
    core.tick(1.0)
    core.reset()
    assert np.all(runner.inner.state == 0)
    assert core.tick(1.05).stopped  # the inputs from before the reset no longer count
    feed_all(core, 1.06)
    assert not core.tick(1.1).stopped and runner.calls[-1][1] == PERIOD


def test_command_is_stamped_with_the_oldest_input():
    core = PolicyCore(parking_params())
    feed_all(core, 10.0, stamp=9.98)
    core.on_message("odom", odom(), 9.99, 10.0)
    assert core.tick(10.0).stamp == 9.98


def test_latency_window_is_bounded():
    core = PolicyCore(parking_params())
    for k in range(1500):
        core.record_latency(1e-4 * (k % 10))
    _, _, values = core.diagnostics()
    assert len(core.latencies) == 1000 and values["loop_latency_max_ms"] == "0.900"
