"""The scripted drone expert flies the seeded courses in both action modes, and recovers from perturbed starts."""

from __future__ import annotations

import math

import mujoco
import numpy as np
import pytest
from liquidcontrol.envs.drone import DroneEnv
from liquidcontrol.envs.drone_expert import DroneExpert


def _perturb_start(env: DroneEnv, rng: np.random.Generator, tilt: float, speed: float, rate: float) -> None:
    """Throw the drone (after reset): tilt up to ``tilt`` rad on roll and pitch, any yaw, 0.3 m higher,
    velocity up to ``speed`` m/s and body rates up to ``rate`` rad/s per axis."""
    d = env.data
    roll, pitch = rng.uniform(-tilt, tilt, 2)
    yaw = rng.uniform(-math.pi, math.pi)
    cr, sr = math.cos(roll / 2), math.sin(roll / 2)
    cp, sp = math.cos(pitch / 2), math.sin(pitch / 2)
    cy, sy = math.cos(yaw / 2), math.sin(yaw / 2)
    i, j = env._qpos0, env._qvel0
    d.qpos[i + 2] += 0.3
    d.qpos[i + 3:i + 7] = (cr * cp * cy + sr * sp * sy, sr * cp * cy - cr * sp * sy,
                           cr * sp * cy + sr * cp * sy, cr * cp * sy - sr * sp * cy)
    d.qvel[j:j + 3] = rng.uniform(-speed, speed, 3)
    d.qvel[j + 3:j + 6] = rng.uniform(-rate, rate, 3)
    mujoco.mj_forward(env.model, d)
    env._read_state()


def _episode(env: DroneEnv, expert: DroneExpert, seed: int, perturb: bool = False) -> dict:
    env.reset(seed=seed)
    expert.reset()
    if perturb:
        _perturb_start(env, np.random.default_rng(seed), math.radians(30), 1.0, 3.0)
    done, info = False, {}
    while not done:
        action = expert.act(env)
        assert action.shape == (4,) and action.dtype == np.float32 and np.all(np.abs(action) <= 1.0)
        _, _, terminated, truncated, info = env.step(action)
        done = terminated or truncated
    return info


def _successes(mode: str, seeds, airframe: str = "crazyflie", perturb: bool = False, expert=None) -> int:
    """Successful episodes of ``seeds``; ``expert``: the agent (default: a ``DroneExpert()``)."""
    env, expert = DroneEnv(action_mode=mode, airframe=airframe), expert or DroneExpert()
    return sum(bool(_episode(env, expert, s, perturb)["is_success"]) for s in seeds)


@pytest.mark.parametrize("mode", ["rates", "motors"])
def test_expert_flies_the_course_quick(mode):
    assert _successes(mode, range(30)) >= 29


@pytest.mark.parametrize("mode", ["rates", "motors"])
def test_expert_flies_the_x250_quick(mode):
    assert _successes(mode, range(5), airframe="x250") >= 4


def test_expert_reaches_every_target_in_order():
    env, expert = DroneEnv(), DroneExpert()
    env.reset(seed=11)
    expert.reset()
    reached, done, info = [0], False, {}
    while not done:
        _, _, terminated, truncated, info = env.step(expert.act(env))
        done = terminated or truncated
        reached.append(info["targets_reached"])
    assert info["is_success"] and reached[-1] == 3 and info["course_time_s"] is not None
    assert all(b - a in (0, 1) for a, b in zip(reached, reached[1:]))  # one target at a time, in order
    assert info["tracking_error_m"] <= 0.1 and info["speed"] < 0.2


def test_expert_uses_only_the_vertical_integral_as_memory():
    env, used = DroneEnv(), DroneExpert()
    env.reset(seed=5)
    for _ in range(40):
        env.step(used.act(env))
    fresh = DroneExpert()
    fresh._integral = used._integral
    np.testing.assert_array_equal(used.act(env), fresh.act(env))


def test_vertical_integral_holds_a_heavier_drone():
    """With 15 % more mass than the expert knows, the integral still holds the final hover. Without it
    the drone settles below the last target, never within its radius: the missing 0.15 m g must come
    from the cascade's proportional terms, 0.15 g = velocity_gain x position_gain x e, so e = 1.47 / 5.6
    = 0.26 m."""
    env = DroneEnv()
    env.set_physics(mass_scale=1.15)
    with_integral = [_episode(env, DroneExpert(), s) for s in range(5)]
    without = [_episode(env, DroneExpert(vertical_integral=1e-9), s) for s in range(5)]
    assert sum(i["is_success"] for i in with_integral) >= 4
    assert not any(i["is_success"] for i in without)
    for info in without:  # the first two targets are flown through, the last is missed from below
        assert info["targets_reached"] == 2 and info["target"][2] - info["position"][2] > 0.2


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["rates", "motors"])
def test_expert_flies_500_seeds(mode):
    assert _successes(mode, range(500)) >= 495  # >= 99 %


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["rates", "motors"])
def test_expert_recovers_from_perturbed_starts(mode):
    """Up to 30 deg of tilt on each axis, any heading, 1 m/s and 3 rad/s per axis, 0.3 m higher."""
    assert _successes(mode, range(1000, 1100), perturb=True) >= 99  # measured 100 / 100 in both modes


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["rates", "motors"])
def test_expert_flies_the_x250_50_seeds(mode):
    assert _successes(mode, range(50), airframe="x250") >= 49


RANDOMIZE = {"mass": 0.2, "thrust": 0.1, "motor_tau": 0.3, "inertia": 0.2}


def _perturbed_successes(perturbation: tuple[str, int] | None, seeds, randomize=None, mode: str = "rates",
                         agent=None, **expert) -> int:
    """Successes under a perturbation (name, severity) and / or ``randomize``; ``agent`` (default: a
    ``DroneExpert(**expert)``)."""
    from liquidcontrol.perturb import make_perturbation

    env = DroneEnv(randomize=randomize, action_mode=mode)
    if perturbation is not None:
        env = make_perturbation(*perturbation, seed=0).apply(env)
    agent = agent or DroneExpert(**expert)
    return sum(bool(_episode(env, agent, s)["is_success"]) for s in seeds)


def test_expert_flies_randomised_drones():
    """Mass and inertia +-20 %, thrust +-10 %, motor time constants +-30 % per episode; the expert knows only
    the nominal airframe (its vertical integral absorbs the rest)."""
    assert _perturbed_successes(None, range(30), randomize=RANDOMIZE) >= 28


def test_horizontal_integral_is_off_by_default_and_holds_station_in_a_3_m_s_wind():
    env, default = DroneEnv(), DroneExpert()
    _episode(env, default, 0)
    assert default._integral_xy == (0.0, 0.0)
    assert _perturbed_successes(("wind", 5), range(5), horizontal_integral=1.0) >= 4


#: Successes of 50 seeds (0-49) in the "rates" mode, severities 1-5, as measured (see liquidcontrol.perturb.drone).
MEASURED_50 = {
    ("wind", 0.0): (50, 50, 50, 36, 5),
    ("wind", 1.0): (50, 50, 50, 50, 50),
    ("rotor_loss", 0.0): (50, 0, 0, 0, 0),
    ("rotor_loss", 1.0): (50, 48, 0, 0, 0),
}


@pytest.mark.slow
@pytest.mark.parametrize("name,ki", sorted(MEASURED_50))
def test_expert_success_under_drone_perturbations_50_seeds(name, ki):
    """The measured table of the perturbation docs; a change of more than 3 episodes means the docs need updating."""
    got = tuple(_perturbed_successes((name, s), range(50), horizontal_integral=ki) for s in range(1, 6))
    assert np.all(np.abs(np.subtract(got, MEASURED_50[name, ki])) <= 3), (name, ki, got)


@pytest.mark.slow
def test_expert_flies_randomised_drones_50_seeds():
    assert _perturbed_successes(None, range(50), randomize=RANDOMIZE) >= 49  # measured 50


def _task_expert() -> DroneExpert:
    """The drone task's expert (horizontal integral on)."""
    from liquidcontrol.tasks import get_task

    expert = get_task("drone").make_expert()
    assert isinstance(expert, DroneExpert) and expert.horizontal_integral > 0.0
    return expert


# The task's expert (horizontal integral on), 200 episodes per mode: measured 200 / 200 in each test below.


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["rates", "motors"])
def test_task_expert_in_a_2_m_s_wind_200_seeds(mode):
    """The ``wind`` perturbation at severity 4: 2 m/s mean from a direction drawn per episode (plus its
    Ornstein-Uhlenbeck gusts, sigma 0.6 m/s per horizontal axis)."""
    assert _perturbed_successes(("wind", 4), range(200), mode=mode, agent=_task_expert()) >= 198  # >= 99 %


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["rates", "motors"])
def test_task_expert_flies_randomised_drones_200_seeds(mode):
    assert _perturbed_successes(None, range(200), randomize=RANDOMIZE, mode=mode, agent=_task_expert()) >= 198


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["rates", "motors"])
def test_task_expert_recovers_from_perturbed_starts_200_seeds(mode):
    """Measured 200 / 200 in both modes; the bar is 99 %. (Before the expert kept a horizontal reserve and
    used attitude gain 13, a drone thrown downwards next to a wall spent all its thrust on the climb: 197 and
    195.)"""
    assert _successes(mode, range(1000, 1200), perturb=True, expert=_task_expert()) >= 198


def test_horizontal_reserve_keeps_a_drone_thrown_downwards_inside_the_arena():
    """Seed 1195 throws the drone down and towards the +x wall: with all the thrust spent on the climb
    (no reserve) it leaves the arena; the default reserve of 3 m/s^2 stops it in time."""
    env = DroneEnv()
    without = _episode(env, DroneExpert(horizontal_integral=1.0, horizontal_reserve=0.0), 1195, perturb=True)
    assert without["out_of_bounds"] and not without["is_success"]
    assert _episode(env, DroneExpert(horizontal_integral=1.0), 1195, perturb=True)["is_success"]
