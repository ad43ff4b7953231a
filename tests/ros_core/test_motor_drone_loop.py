"""The quadrotor's motor-command bundle (drone_cfc_ncp30_motors, 100 Hz) through the shipped
config/drone_motors.yaml and PolicyCore, fed the sim's sensors: it flies like the runtime called
directly; the joint_state command's start-up checks."""

from __future__ import annotations

import pytest
from conftest import ROOT, params_file
from liquidcontrol_ros.core import PolicyCore
from liquidcontrol_ros.sim_bridge import DroneMotorsSim, in_process_results
from test_drone_loop import fly_lockstep

from liquidcontrol.errors import LiquidControlError

MOTORS_BUNDLE = ROOT / "policies" / "pretrained" / "drone_cfc_ncp30_motors"
SEEDS = [0, 1]


def _params(**overrides):
    return params_file("drone_motors.yaml", bundle=str(MOTORS_BUNDLE), **overrides)


def test_motor_mapping_in_the_loop_matches_in_process_evaluation():
    core = PolicyCore(_params())
    assert core.period == 0.01 and core.config.command.kind == "joint_state"
    assert core.config.command.fields == ["velocity"] * 4
    sim = DroneMotorsSim(SEEDS)
    fly_lockstep(core, sim)  # the buffered observation includes the previous motors
    reference = in_process_results(str(MOTORS_BUNDLE), SEEDS, task="drone_motors")
    assert [(r.success, r.steps) for r in sim.results] == [(r.success, r.steps) for r in reference]
    assert sum(r.success for r in reference) == len(SEEDS)


def test_the_motor_stop_is_hover_and_the_bridge_idles_at_hover():
    core = PolicyCore(_params())
    stopped = core.tick(1.0)
    assert stopped.stopped and stopped.values == [0.806128] * 4
    sim = DroneMotorsSim([0])
    sim.start_next()
    assert sim.idle_command() == pytest.approx([0.806128] * 4, abs=1e-6)
    assert sim.action_from_command(sim.idle_command()) == pytest.approx([0.6122568] * 4, abs=1e-6)


@pytest.mark.parametrize("overrides, words", [
    ({"command.fields.motor2": "position"}, "puts every action in one array, but command.fields gives 'motor0' "
                                            "'velocity' and 'motor2' 'position'"),
    ({"command.fields.motor1": "data[1]"}, "must be one of position, velocity, effort for a joint_state command"),
    ({"command.type": "twist_stamped"}, "command.fields.motor0 must be one of linear.x"),
])
def test_joint_state_command_checks(overrides, words):
    with pytest.raises(LiquidControlError) as info:
        PolicyCore(_params(**overrides))
    assert words in str(info.value)
