"""The quadrotor's body-rate bundle through its parameter mapping (config/drone_rates.yaml) and
PolicyCore, fed the sim's sensor readings: it flies the courses exactly like the runtime called
directly, including the previous-action channels the node supplies itself."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import DRONE_BUNDLE, drone_params, ns
from liquidcontrol_ros.core import PolicyCore
from liquidcontrol_ros.sim_bridge import DroneSim, in_process_results

from liquidcontrol.errors import LiquidControlError

SEEDS = [0, 1, 2]


def _send(core: PolicyCore, sim: DroneSim, now: float) -> None:
    s = sim.sensors()
    x, y, z, w = s.quaternion
    pose = ns(position=ns(x=s.position[0], y=s.position[1], z=s.position[2]), orientation=ns(x=x, y=y, z=z, w=w))
    core.on_message("odom", ns(pose=ns(pose=pose)), now, now)
    core.on_message("imu", ns(angular_velocity=ns(x=s.body_rates[0], y=s.body_rates[1], z=s.body_rates[2])), now, now)
    core.on_message("velocity", ns(vector=ns(x=s.velocity[0], y=s.velocity[1], z=s.velocity[2])), now, now)
    core.on_message("target_error", ns(vector=ns(x=s.target_error[0], y=s.target_error[1], z=s.target_error[2])),
                    now, now)


def fly_lockstep(core: PolicyCore, sim: Any, now: float = 50.0) -> None:
    """Every seed of ``sim`` flown by ``core`` fed the sim's sensors, one control period per tick;
    the buffered observation must be what the sim observes (previous-action channels included)."""
    while sim.start_next():
        core.reset()
        result = None
        while result is None:
            _send(core, sim, now)
            assert sim.obs is not None
            np.testing.assert_allclose(core._buffers[0], sim.obs, atol=2e-6)  # what the policy will see
            cmd = core.tick(now)
            assert not cmd.stopped, cmd.reason
            result = sim.step(sim.action_from_command(cmd.values))
            now += sim.period


def test_drone_mapping_in_the_loop_matches_in_process_evaluation():
    core = PolicyCore(drone_params())
    assert core.period == 0.02 and set(core.config.topics()) == {"odom", "imu", "velocity", "target_error"}
    sim = DroneSim(SEEDS)
    fly_lockstep(core, sim)
    reference = in_process_results(str(DRONE_BUNDLE), SEEDS, task="drone")
    assert [(r.success, r.steps) for r in sim.results] == [(r.success, r.steps) for r in reference]
    assert sum(r.success for r in reference) == len(SEEDS)


def test_previous_action_channels_follow_the_clamped_action_and_the_stop():
    core = PolicyCore(drone_params())
    prev = slice(18, 22)
    assert core._buffers[0][prev].tolist() == [0.0] * 4
    sim = DroneSim([0])
    sim.start_next()
    _send(core, sim, 1.0)
    cmd = core.tick(1.0)
    assert cmd.action is not None
    assert core._buffers[0][prev] == pytest.approx(cmd.action.tolist(), abs=1e-7)
    stopped = core.tick(2.0)  # every input stale
    assert stopped.stopped and stopped.values == [0.300186, 0.0, 0.0, 0.0]
    # The stop set-point in env units: hover thrust is the card's offset, so 0.
    assert core._buffers[0][prev] == pytest.approx([0.0, 0.0, 0.0, 0.0], abs=1e-6)
    core.reset()
    assert core._buffers[0][prev].tolist() == [0.0] * 4


def test_previous_action_must_name_a_card_action():
    with pytest.raises(LiquidControlError, match="must name an action of the card"):
        PolicyCore(drone_params(**{"inputs.previous_yaw_rate.field": "yaw"}))
    with pytest.raises(LiquidControlError, match="initial must be a finite number"):
        PolicyCore(drone_params(**{"inputs.previous_yaw_rate.initial": float("nan")}))
    with pytest.raises(LiquidControlError, match="has source 'memory'"):
        PolicyCore(drone_params(**{"inputs.previous_yaw_rate.source": "memory"}))
