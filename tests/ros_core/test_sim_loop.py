"""The parking sim's sensor readings, through the parking mapping and PolicyCore, drive the car like
the runtime called directly: the node logic adds nothing and loses nothing (no ROS here)."""

from __future__ import annotations

import math

import numpy as np
from conftest import PARKING_BUNDLE, RANGES, ns, parking_params, quat
from liquidcontrol_ros.core import PolicyCore
from liquidcontrol_ros.sim_bridge import ParkingSim, in_process_results, summary

SEEDS = [0, 1, 2, 3]


def _send(core: PolicyCore, sim: ParkingSim, now: float) -> None:
    s = sim.sensors()
    pose = ns(position=ns(x=s.x, y=s.y, z=0.0), orientation=quat(s.yaw))
    core.on_message("odom", ns(pose=ns(pose=pose), twist=ns(twist=ns(linear=ns(x=s.speed)))), now, now)
    core.on_message("joint_states", ns(position=[s.steering]), now, now)
    for name, reading in zip(sim.range_names, s.ranges):
        core.on_message(f"range/{name}", ns(range=reading), now, now)


def test_sensor_names_match_the_mapping():
    assert tuple(ParkingSim([0]).range_names) == RANGES


def test_node_logic_in_the_loop_matches_in_process_evaluation():
    core = PolicyCore(parking_params())
    sim = ParkingSim(SEEDS)
    now = 1000.0
    while sim.start_next():
        core.reset()
        result = None
        while result is None:
            _send(core, sim, now)
            cmd = core.tick(now)
            assert not cmd.stopped, cmd.reason
            assert sim.obs is not None
            # The observation the node assembled is the env's, to float32 rounding of cos/sin.
            assert np.allclose(core._buffers[0], sim.obs, atol=1e-6)
            assert cmd.action is not None and np.all(np.abs(cmd.action) <= 1.0)
            result = sim.step(sim.action_from_command(cmd.values))
            now += sim.period
    ours = sim.results
    reference = in_process_results(str(PARKING_BUNDLE), SEEDS)
    assert [(r.seed, r.success, r.steps) for r in ours] == [(r.seed, r.success, r.steps) for r in reference]
    assert summary(ours)["successes"] == sum(r.success for r in reference) >= 3


def test_no_echo_is_sent_as_infinity():
    sim = ParkingSim([0])
    sim.start_next()
    s = sim.sensors()
    assert sim.obs is not None
    for reading, observed in zip(s.ranges, sim.obs[6:14].tolist()):
        assert (reading == math.inf) == (observed >= 2.0)
