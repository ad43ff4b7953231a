"""The multirotor perturbations (``liquidcontrol.perturb.drone``) do what their tables say, on the real drone env.

Each ``verify_<name>(wrap, severity)`` builds ``liquidcontrol/Drone-v0``,
wraps it with ``wrap`` (the perturbation's ``apply``, or a wrapper that does
nothing) and measures the documented amount on the simulation:

- wind: the momentum the drone gains equals the drag c (w - v) summed over
  the physics steps, the drag on a drone at rest is c x wind within 2 %,
  the wind's mean speed, gust σ and 1 s correlation match the level, and
  a level drone left alone drifts along the wind;
- rotor_loss: each rotor's thrust, solved from the body's linear and
  angular acceleration, is the level on one rotor and nominal on the rest;
- payload: the model's mass and inertia and the measured sink rate of a
  drone at nominal hover thrust;
- imu_noise: noise σ and the per-episode bias on the gyro channels of the
  observation, every other channel untouched.

``test_each_verifier_fails_for_a_wrapper_that_does_nothing`` shows that
each check catches a perturbation that changes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import gymnasium as gym
import liquidcontrol.envs  # noqa: F401  (registers Drone-v0)
import mujoco
import numpy as np
import pytest
from liquidcontrol.envs import drone_constants as dc
from liquidcontrol.envs.drone import DroneEnv
from liquidcontrol.envs.drone_expert import DroneExpert
from liquidcontrol.envs.drone_task import DRONE, DRONE_ID

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.perturb import PERTURBATIONS, apply_perturbations, make_perturbation
from liquidcontrol.perturb import drone as pd

CF = dc.CRAZYFLIE
SEVERITIES = [1, 2, 3, 4, 5]
NAMES = [e["name"] for e in DroneEnv().observation_layout]
GYRO = [i for i, e in enumerate(DroneEnv().observation_layout) if e["group"] == "gyro"]
Wrap = Callable[[gym.Env], gym.Env]


class DoesNothing(gym.Wrapper):
    """Claims to be a perturbation, changes nothing."""


def drone(**kwargs) -> gym.Env:
    return gym.make(DRONE_ID, **kwargs)


def level(name: str, severity: int):
    return PERTURBATIONS[name].levels[severity]


def place(u: DroneEnv, z: float = 0.75) -> None:
    """At rest, level, heading +x, at (0, 0, z), motors at hover speed (after a reset)."""
    d = u.data
    d.qpos[u._qpos0:u._qpos0 + 7] = (0.0, 0.0, z, 1.0, 0.0, 0.0, 0.0)
    d.qvel[u._qvel0:u._qvel0 + 6] = 0.0
    mujoco.mj_forward(u.model, d)
    u._read_state()


def hover_motors() -> np.ndarray:
    return np.full(4, 2.0 * CF.hover_speed - 1.0, np.float32)


class WindLog:
    """Wraps the env's wind function: records the wind and the drone's velocity at every physics step."""

    def __init__(self, u: DroneEnv) -> None:
        self.u, self.field = u, u.wind_function
        self.rows: list[tuple[float, ...]] = []
        if self.field is not None:
            u.set_wind(self)

    def __call__(self, t: float) -> tuple[float, float, float]:
        w = self.field(t)
        j = self.u._qvel0
        self.rows.append((*w, *self.u.data.qvel[j:j + 3].tolist()))
        return w

    def array(self) -> np.ndarray:
        """Rows (wx, wy, wz, vx, vy, vz) per physics step; hands the env its own wind function back."""
        if self.field is not None:
            self.u.set_wind(self.field)
        return np.array(self.rows).reshape(-1, 6)


# ---------------------------------------------------------------- verifiers
def verify_wind(wrap: Wrap, severity: int) -> None:
    speed = level("wind", severity)
    # 1. Drag = -c (v - w) at physics rate: on a level drone at hover thrust (motors mode) the horizontal
    #    momentum gained equals c (w - v) dt summed over the physics steps, to float precision; over the
    #    first 10 ms (v still ~0) the force is c x the wind within 2 %.
    env = wrap(drone(action_mode="motors"))
    u = env.unwrapped
    dt = u.physics_dt
    for seed in range(3):
        env.reset(seed=seed)
        place(u)
        log = WindLog(u)
        v0 = np.array(u.true_state().velocity)
        env.step(hover_motors())
        first = np.array(u.true_state().velocity)
        for _ in range(49):
            env.step(hover_motors())
        v1 = np.array(u.true_state().velocity)
        rows = log.array()
        w = rows[:, :3] if len(rows) else np.zeros((250, 3))
        v = rows[:, 3:] if len(rows) else np.zeros((250, 3))
        gained = CF.mass * (v1 - v0)[:2]
        expected = CF.drag_coefficient * np.sum(w[:, :2] - v[:, :2], axis=0) * dt
        np.testing.assert_allclose(gained, expected, rtol=1e-6, atol=1e-12)
        force = CF.mass * (first - v0)[:2] / u.control_period
        wind_now = np.mean(w[:5, :2], axis=0)
        assert np.linalg.norm(wind_now) > 0.2 * speed, "no wind"
        np.testing.assert_allclose(force, CF.drag_coefficient * wind_now, rtol=0.02,
                                   atol=0.02 * CF.drag_coefficient * np.linalg.norm(wind_now))
        np.testing.assert_array_equal(w[:, 2], 0.0)  # horizontal wind
    # 2. The wind itself, sampled at physics-step times as the env does, has the level's mean speed from a
    #    direction drawn per episode, gusts of sigma 0.3 x mean per horizontal axis, correlation e^-1 at 1 s.
    means, residuals, directions = [], [], []
    step, duration = 10 * dt, 200.0  # the OU update is exact for any step; 20 ms keeps this quick
    lag = round(pd.GUST_TAU_S / step)
    for seed in range(16):
        env.reset(seed=100 + seed)
        field = u.wind_function
        assert field is not None, "the env has no wind"
        series = np.array([field(k * step) for k in range(1, round(duration / step) + 1)])
        means.append(series.mean(axis=0))
        residuals.append(series[:, :2] - series[:, :2].mean(axis=0))
        directions.append(math.atan2(means[-1][1], means[-1][0]))
    speeds = np.linalg.norm(np.array(means), axis=1)
    assert abs(speeds.mean() - speed) <= 0.03 * speed, (speeds.mean(), speed)
    gusts = np.concatenate(residuals)
    np.testing.assert_allclose(gusts.std(axis=0), pd.GUST_FRACTION * speed, rtol=0.06)
    rho = np.mean([np.corrcoef(r[:-lag, a], r[lag:, a])[0, 1] for r in residuals for a in (0, 1)])
    assert abs(rho - math.exp(-1.0)) <= 0.05, rho
    assert np.std(np.cos(directions)) > 0.4 and np.std(np.sin(directions)) > 0.4  # directions vary per episode
    # 3. Left alone (rates mode, zero action: level, hover thrust) the drone drifts along the wind.
    env = wrap(drone())
    u = env.unwrapped
    for seed in range(4):
        env.reset(seed=seed)
        place(u)
        log = WindLog(u)
        start = np.array(u.true_state().position)
        for _ in range(50):  # 1 s
            env.step(np.zeros(4, np.float32))
        drift = (np.array(u.true_state().position) - start)[:2]
        rows = log.array()
        wind = rows[:, :2].mean(axis=0) if len(rows) else np.zeros(2)
        # m dv/dt = c (w - v): after 1 s, x = w (t - tau (1 - e^(-t / tau))) with tau = m / c.
        tau = CF.mass / CF.drag_coefficient
        predicted = speed * (1.0 - tau * (1.0 - math.exp(-1.0 / tau)))
        assert np.linalg.norm(drift) > 0.5 * predicted, (drift, predicted)
        assert drift @ wind / (np.linalg.norm(drift) * np.linalg.norm(wind)) > 0.95


def _rotor_thrusts(env: gym.Env, r: float) -> np.ndarray:
    """Each rotor's thrust (N) solved from one physics step of a level drone at rest with all motors at speed r."""
    u = env.unwrapped
    place(u)
    u._r = [r] * 4
    u.frame_skip = 1
    v0 = np.array(u.data.qvel[u._qvel0:u._qvel0 + 6])
    env.step(np.full(4, 2.0 * r - 1.0, np.float32))
    u.frame_skip = round(u.control_period / u.physics_dt)
    acc = (np.array(u.data.qvel[u._qvel0:u._qvel0 + 6]) - v0) / u.physics_dt
    m, (jx, jy, jz) = u.model.body_mass[u._body], u.model.body_inertia[u._body]
    # total thrust, roll, pitch and yaw torques = A @ T (rotor i at (x_i, y_i), yaw direction d_i).
    A = np.array([[1.0] * 4, [y for _, y in CF.rotor_positions], [-x for x, _ in CF.rotor_positions],
                  [d * CF.torque_coefficient for d in dc.YAW_DIRECTIONS]])
    wrench = np.array([m * (acc[2] + dc.GRAVITY), jx * acc[3], jy * acc[4], jz * acc[5]])
    return np.linalg.solve(A, wrench)


def verify_rotor_loss(wrap: Wrap, severity: int) -> None:
    scale = level("rotor_loss", severity)
    env, clean = wrap(drone(action_mode="motors")), drone(action_mode="motors")
    weak = []
    for seed in range(12):
        for r in (CF.hover_speed, 0.5):
            env.reset(seed=seed)
            clean.reset(seed=seed)
            got, nominal = _rotor_thrusts(env, r), _rotor_thrusts(clean, r)
            np.testing.assert_allclose(nominal, CF.thrust(r), rtol=1e-6)
            ratio = got / nominal
            changed = np.flatnonzero(np.abs(ratio - 1.0) > 1e-6)
            assert changed.size == 1, ratio  # exactly one weak rotor ...
            np.testing.assert_allclose(ratio[changed[0]], scale, rtol=1e-6)  # ... at the level
            weak.append(int(changed[0]))
    assert weak[::2] == weak[1::2]  # one rotor per episode
    assert len(set(weak)) >= 3  # drawn per episode: 12 episodes hit at least 3 of the 4 rotors


def verify_payload(wrap: Wrap, severity: int) -> None:
    extra = level("payload", severity)
    env = wrap(drone(action_mode="motors"))
    env.reset(seed=0)
    u = env.unwrapped
    np.testing.assert_allclose(u.model.body_mass[u._body], (1.0 + extra) * CF.mass, rtol=1e-12)
    np.testing.assert_allclose(u.model.body_subtreemass[u._body], (1.0 + extra) * CF.mass, rtol=1e-12)
    np.testing.assert_allclose(u.model.body_inertia[u._body], (1.0 + extra) * np.array(CF.inertia), rtol=1e-12)
    # At the nominal hover thrust the heavier drone sinks at g x extra / (1 + extra).
    place(u)
    for _ in range(20):
        env.step(hover_motors())
    sink = -u.true_state().velocity[2] / (20 * u.control_period)
    np.testing.assert_allclose(sink, dc.GRAVITY * extra / (1.0 + extra), rtol=1e-3)


def verify_imu_noise(wrap: Wrap, severity: int) -> None:
    lv = level("imu_noise", severity)
    env, clean = wrap(drone()), drone()
    biases, noise = [], []
    for seed in range(10):
        p_obs, c_obs = [env.reset(seed=seed)[0]], [clean.reset(seed=seed)[0]]
        for _ in range(300):  # zero action: the drone hovers where it started for 6 s
            p_obs.append(env.step(np.zeros(4, np.float32))[0])
            c_obs.append(clean.step(np.zeros(4, np.float32))[0])
        p, c = np.array(p_obs, np.float64), np.array(c_obs, np.float64)
        other = [i for i in range(len(NAMES)) if i not in GYRO]
        np.testing.assert_array_equal(p[:, other], c[:, other])
        err = p[:, GYRO] - c[:, GYRO]
        biases.append(err.mean(axis=0))
        noise.append(err - err.mean(axis=0))
    b = np.array(biases)
    n = 301
    # A constant bias of the level's size on every axis, its sign drawn per axis and episode.
    assert np.all(np.abs(np.abs(b) - lv["bias"]) <= 5 * lv["sigma"] / math.sqrt(n) + 1e-6), (b, lv)
    assert (b > 0).any() and (b < 0).any()
    np.testing.assert_allclose(np.concatenate(noise).std(axis=0), lv["sigma"], rtol=0.05)


VERIFY: dict[str, Callable[[Wrap, int], None]] = {
    "wind": verify_wind,
    "rotor_loss": verify_rotor_loss,
    "payload": verify_payload,
    "imu_noise": verify_imu_noise,
}


@pytest.mark.parametrize("severity", SEVERITIES)
@pytest.mark.parametrize("name", sorted(VERIFY))
def test_drone_perturbation_does_what_its_table_says(name, severity):
    VERIFY[name](make_perturbation(name, severity, seed=severity).apply, severity)


@pytest.mark.parametrize("name", sorted(VERIFY))
def test_each_verifier_fails_for_a_wrapper_that_does_nothing(name):
    with pytest.raises(AssertionError):
        VERIFY[name](DoesNothing, 3)


def test_every_drone_perturbation_is_registered_and_in_the_drone_sweep():
    assert set(VERIFY) <= set(PERTURBATIONS) and set(VERIFY) <= set(DRONE.sweep)
    assert {n: PERTURBATIONS[n].kind for n in VERIFY} == {
        "wind": "wind", "rotor_loss": "physics", "payload": "physics", "imu_noise": "observation"}
    assert not set(VERIFY) & set(DRONE.trainable_perturbations)


@pytest.mark.parametrize("severity", SEVERITIES)
@pytest.mark.parametrize("name", DRONE.sweep)
def test_every_sweep_perturbation_builds_and_steps_on_the_drone(name, severity):
    env = make_perturbation(name, severity, seed=1).apply(drone())
    expert = DroneExpert()
    obs, _ = env.reset(seed=severity)
    expert.reset()
    for _ in range(50):
        obs, reward, terminated, truncated, _ = env.step(expert.act(env))
        assert np.all(np.isfinite(obs)) and env.observation_space.contains(obs) and math.isfinite(reward)
        if terminated or truncated:
            obs, _ = env.reset()


def test_the_whole_drone_sweep_at_once_in_both_modes():
    for mode in ("rates", "motors"):
        env = apply_perturbations(drone(action_mode=mode), [(n, 5) for n in DRONE.sweep], seed=0)
        obs, _ = env.reset(seed=2)
        for _ in range(100):
            obs, _, terminated, truncated, _ = env.step(np.zeros(4, np.float32))
            assert np.all(np.isfinite(obs))
            if terminated or truncated:
                obs, _ = env.reset()


def test_wind_is_the_same_for_the_same_seeds_and_stacks():
    def series(env: gym.Env, seed: int) -> np.ndarray:
        env.reset(seed=seed)
        field = env.unwrapped.wind_function
        return np.array([field(0.002 * k) for k in range(500)])

    a, b = (make_perturbation("wind", 4, seed=3).apply(drone()) for _ in range(2))
    first = series(a, 5)
    np.testing.assert_array_equal(first, series(b, 5))
    series(a, 6)  # another episode in between changes nothing
    np.testing.assert_array_equal(series(a, 5), first)
    assert not np.array_equal(series(a, 6), first)
    other = make_perturbation("wind", 4, seed=4).apply(drone())
    assert not np.array_equal(series(other, 5), first)
    # Two wind perturbations add up (the inner one's wind is kept under the outer one's), episode after episode.
    both = apply_perturbations(drone(), [("wind", 2), ("wind", 5)], seed=0)
    for seed in (0, 1, 2):
        both.reset(seed=seed)
        inner, outer, u = both.env, both, both.unwrapped
        assert u.wind_function is outer.field and outer.field.base is inner.field
        w = np.array(u.wind_function(0.1))  # advances both to 0.1 s
        own = np.add(outer.field.mean, (*outer.field.gust, 0.0))
        np.testing.assert_allclose(w, own + np.array(inner.field(0.1)), rtol=1e-12)
        assert np.linalg.norm(outer.field.mean) == pytest.approx(3.0) and np.linalg.norm(inner.field.mean) == pytest.approx(1.0)


def test_rotor_loss_stacks_and_the_rotor_is_drawn_per_episode_seed():
    env = apply_perturbations(drone(action_mode="motors"), [("rotor_loss", 1), ("rotor_loss", 5)], seed=0)
    for seed in range(6):
        env.reset(seed=seed)
        scales = np.ones(4)
        scales[env.env.rotor] *= 0.9
        scales[env.rotor] *= 0.5
        np.testing.assert_allclose(env.unwrapped.rotor_scales, scales)
    a = make_perturbation("rotor_loss", 3, seed=7).apply(drone())
    picks = []
    for seed in (3, 4, 3):
        a.reset(seed=seed)
        picks.append(a.rotor)
    assert picks[0] == picks[2]


def test_descriptions_use_the_crazyflie_numbers():
    assert pd.CF_MASS_KG == CF.mass and pd.CF_DRAG == CF.drag_coefficient
    assert pd.CF_HOVER_THRUST == pytest.approx(CF.hover_thrust, abs=1e-5)
    assert pd.CF_MAX_THRUST == pytest.approx(CF.max_thrust, abs=1e-5)
    assert pd.CF_THRUST_TO_WEIGHT == pytest.approx(CF.thrust_to_weight, rel=1e-3)
    assert pd.GRAVITY == dc.GRAVITY
    assert "30 mN of drag (10.0 % of its weight, 5.7 deg" in PERTURBATIONS["wind"].describe(5)
    assert "+7.65 g, 38.25 g in all, thrust-to-weight 1.17" in PERTURBATIONS["payload"].describe(5)
    assert "103 % of its hover share" in PERTURBATIONS["rotor_loss"].describe(3)
    assert "(1 deg/s)" in PERTURBATIONS["imu_noise"].describe(2)
    assert PERTURBATIONS["payload"].levels == (0.0, 0.05, 0.1, 0.15, 0.2, 0.25)
    assert PERTURBATIONS["wind"].levels == (0.0, 0.5, 1.0, 1.5, 2.0, 3.0)
    assert PERTURBATIONS["rotor_loss"].levels == (1.0, 0.9, 0.8, 0.7, 0.6, 0.5)


def test_the_expert_settles_downwind_by_the_documented_offset():
    """Severity 5 (3 m/s): the expert has no horizontal integral, so it holds c w / m = 5.6 / s^2 x offset:
    17.5 cm downwind of its hover target (within 10 %, measured from 2 s after it first reached it), tilted
    into the wind."""
    env = make_perturbation("wind", 5, seed=0).apply(drone(max_episode_seconds=9.0))
    expert = DroneExpert()
    along, across, tilt = [], [], []
    for seed in range(4):
        env.reset(seed=seed)
        expert.reset()
        done, t = False, 0.0
        wind = np.array(env.mean_velocity[:2]) / 3.0
        while not done:
            _, _, terminated, truncated, info = env.step(expert.act(env))
            done, t = terminated or truncated, t + env.unwrapped.control_period
            arrived = info["course_time_s"]
            if arrived is not None and t > arrived + 2.0:
                offset = np.subtract(info["position"], info["target"])[:2]
                along.append(offset @ wind)
                across.append(offset @ (-wind[1], wind[0]))
                R = env.unwrapped.true_state().rotation
                tilt.append(np.array((R[2], R[5])) @ wind)  # body z leans upwind: negative
    predicted = CF.drag_coefficient * 3.0 / CF.mass / (expert.velocity_gain * expert.position_gain)
    assert np.mean(along) == pytest.approx(predicted, rel=0.1)
    assert abs(np.mean(across)) < 0.2 * predicted and np.mean(tilt) < 0


def test_clear_errors_without_the_drone_hooks():
    parking = gym.make("liquidcontrol/Parking-v0")
    with pytest.raises(LiquidControlError, match=r"no set_wind\(\); wind needs a multirotor env"):
        make_perturbation("wind", 1).apply(parking)
    with pytest.raises(LiquidControlError, match=r"no set_rotor_scales\(\); rotor_loss needs a multirotor env"):
        make_perturbation("rotor_loss", 1).apply(parking)
    with pytest.raises(LiquidControlError, match=r"unknown observation group\(s\) \['gyro'\]"):
        make_perturbation("imu_noise", 1).apply(parking)
    with pytest.raises(LiquidControlError, match="takes no observation keys"):
        make_perturbation("imu_noise", 1, keys=["state"])
    with pytest.raises(LiquidControlError, match="mean_speed >= 0"):
        pd.Wind(drone(), -1.0)


@pytest.mark.parametrize("name", sorted(VERIFY))
def test_severity_zero_is_identity_and_same_seed_same_flight(name):
    base = drone()
    assert make_perturbation(name, 0, seed=3).apply(base) is base and PERTURBATIONS[name].describe(0) == "none"

    def flight(seed: int) -> np.ndarray:
        env = make_perturbation(name, 3, seed=11).apply(drone())
        expert = DroneExpert()
        obs = [env.reset(seed=seed)[0]]
        expert.reset()
        obs += [env.step(expert.act(env))[0] for _ in range(60)]
        return np.array(obs)

    first = flight(5)
    np.testing.assert_array_equal(first, flight(5))
    assert not np.array_equal(first, flight(6))
