"""Measurement helpers for the perturbation tests, on the real parking env.

Observation perturbations never change the physics, so a perturbed env and
a clean twin driven by the same actions from the same seed stay in lockstep:
their observations differ by exactly what the perturbation did
(:func:`lockstep`). Action perturbations are measured on the action that
reaches the env (:class:`ActionRecorder`), physics ones on the model and on
the car's motion under fixed action sequences (:func:`drive`).

Each ``measure_*`` helper returns numbers and each ``check_*`` asserts them
against what a perturbation claims, so ``tests/perturb/test_probes.py`` can
show that an identity wrapper measures as "no change" and fails the checks.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import liquidcontrol.envs
import numpy as np
from liquidcontrol.envs import parking_constants as pc

from liquidcontrol.perturb import PERTURBATIONS
from liquidcontrol.perturb.catalog import FRICTION_EFFECTS, MASS_EFFECTS
from liquidcontrol.perturb.drone import MULTIROTOR_PERTURBATIONS
from liquidcontrol.perturb.image import IMAGE_PERTURBATIONS

PARKING_ID = liquidcontrol.envs.PARKING_ID
#: Every registered perturbation but the multirotor ones (verified on the drone env in test_drone_perturbations.py)
#: and the camera ones (on the driving env in test_image.py).
ON_PARKING = sorted(set(PERTURBATIONS) - set(MULTIROTOR_PERTURBATIONS) - set(IMAGE_PERTURBATIONS))
DT = 0.05  # ParkingEnv.control_period
NAMES = [e["name"] for e in liquidcontrol.envs.ParkingEnv.observation_layout]
CH = {name: i for i, name in enumerate(NAMES)}
RANGE = [i for i, e in enumerate(liquidcontrol.envs.ParkingEnv.observation_layout) if e["group"] == "range"]
POSE_SPEED_STEER = [CH[n] for n in ("x", "y", "cos_heading", "sin_heading", "speed", "steering")]
SCALES = np.array([e["scale"] for e in liquidcontrol.envs.ParkingEnv.observation_layout], dtype=np.float64)


def parking(**kwargs: Any) -> gym.Env:
    return gym.make(PARKING_ID, **kwargs)


def wiggle(steps: int, phase: float = 0.0) -> np.ndarray:
    """Actions that keep every pose, speed and steering reading changing every step.

    Steering sweeps at 0.6 Hz, speed goes back and forth at 0.45 Hz: the car
    shuffles in the lane without reaching an obstacle or leaving the arena
    in 40 s (checked in test_probes).
    """
    t = (np.arange(steps) + phase) * DT
    steer = np.sin(2 * math.pi * 0.6 * t)
    speed = 0.8 * np.sin(2 * math.pi * 0.45 * t)
    return np.stack([steer, speed], axis=1).astype(np.float32)


def lockstep(env: gym.Env, actions: np.ndarray, seeds: list[int],
             clean: gym.Env | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per episode ``(perturbed, clean)`` observations [T + 1, 14] under the same actions and seed.

    Both envs must stay in lockstep (same true pose at every step), which is
    what an observation perturbation promises; an episode ends when either
    env terminates or truncates.
    """
    clean = clean if clean is not None else parking()
    episodes = []
    for seed in seeds:
        p_obs, _ = env.reset(seed=seed)
        c_obs, _ = clean.reset(seed=seed)
        P, C = [p_obs], [c_obs]
        for a in actions:
            p_obs, _, p_term, p_trunc, p_info = env.step(a)
            c_obs, _, c_term, c_trunc, c_info = clean.step(a)
            assert p_info["car_pose"] == c_info["car_pose"], "the perturbation changed the physics"
            P.append(p_obs)
            C.append(c_obs)
            if p_term or p_trunc or c_term or c_trunc:
                assert (p_term, p_trunc) == (c_term, c_trunc)
                break
        episodes.append((np.array(P, dtype=np.float64), np.array(C, dtype=np.float64)))
    return episodes


class ActionRecorder(gym.Wrapper):
    """Records every action that reaches the wrapped env (put it under action perturbations)."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.received: list[np.ndarray] = []

    def step(self, action: Any) -> Any:
        self.received.append(np.array(action, dtype=np.float64, copy=True))
        return self.env.step(action)


def drive(env: gym.Env, actions: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    """True pose [T, 3], speed [T] and observations [T, 14] under ``actions`` from ``seed``.

    The episode must last the whole sequence (no collision, no exit, no truncation before its end).
    """
    env.reset(seed=seed)
    poses, speeds, obs = [], [], []
    for k, a in enumerate(actions):
        o, _, terminated, truncated, _ = env.step(np.asarray(a, np.float32))
        assert not terminated and (not truncated or k == len(actions) - 1), f"episode ended at step {k}"
        poses.append(env.unwrapped.car_pose)
        speeds.append(env.unwrapped.car_speed)
        obs.append(o)
    return {"pose": np.array(poses), "speed": np.array(speeds), "obs": np.array(obs, dtype=np.float64)}


# ---------------------------------------------------------------- observation measurements
def measure_noise(episodes: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, np.ndarray]:
    """Per channel: std and mean of (perturbed - clean) over readings not at a limit, and their count.

    ``saturated_changed`` counts readings at the 2 m "no echo" limit that the
    perturbation changed (should be 0).
    """
    err = np.concatenate([p - c for p, c in episodes])
    clean = np.concatenate([c for _, c in episodes])
    at_limit = np.zeros_like(clean, dtype=bool)
    at_limit[:, RANGE] = (clean[:, RANGE] == pc.MAX_RANGE) | (clean[:, RANGE] == 0.0)
    count = np.sum(~at_limit, axis=0)
    std, mean = np.zeros(err.shape[1]), np.zeros(err.shape[1])
    for ch in np.flatnonzero(count):
        std[ch], mean[ch] = err[~at_limit[:, ch], ch].std(), err[~at_limit[:, ch], ch].mean()
    return {"std": std, "mean": mean, "count": count,
            "saturated_changed": np.array(int(np.sum(at_limit & (err != 0))))}


def check_noise(m: dict[str, np.ndarray], sigma: np.ndarray, channels: list[int], rtol: float = 0.05) -> None:
    """Noise of std ``sigma[ch]`` (within ``rtol``), zero mean, on each channel with enough samples."""
    checked = 0
    for ch in channels:
        n = int(m["count"][ch])
        if n < 500:
            continue
        checked += 1
        assert abs(m["std"][ch] - sigma[ch]) <= rtol * sigma[ch], (NAMES[ch], m["std"][ch], sigma[ch])
        assert abs(m["mean"][ch]) <= 5 * sigma[ch] / math.sqrt(n), (NAMES[ch], m["mean"][ch])
    assert checked, "no channel had enough unsaturated readings"
    assert int(m["saturated_changed"]) == 0


def measure_lag(episodes: list[tuple[np.ndarray, np.ndarray]], channels: list[int], max_lag: int = 15) -> int:
    """The delay d (steps) for which perturbed[t] == clean[max(t - d, 0)] on every selected channel.

    Returns -1 when no delay up to ``max_lag`` explains the observations.
    """
    for lag in range(max_lag + 1):
        ok = True
        for p, c in episodes:
            shifted = c[np.maximum(np.arange(len(c)) - lag, 0)]
            if not np.array_equal(p[:, channels], shifted[:, channels]):
                ok = False
                break
        if ok:
            return lag
    return -1


def measure_dropout(episodes: list[tuple[np.ndarray, np.ndarray]], channels: list[int],
                    fail: dict[int, float | None]) -> dict[str, float]:
    """Fraction of readings lost, counted where a loss is visible.

    ``fail[ch]`` is the number a lost reading of ``ch`` must read, or None
    for "hold" (it must repeat the previous delivered value). Returns the
    loss rate, the number of visible readings and the number of readings
    that were neither the true one nor the fail value (should be 0).
    """
    lost = visible = wrong = 0
    for p, c in episodes:
        for ch in channels:
            f = fail[ch]
            prev = p[:-1, ch]
            cur_p, cur_c = p[1:, ch], c[1:, ch]
            fail_read = np.full_like(cur_c, f) if f is not None else prev
            vis = cur_c != fail_read
            changed = cur_p != cur_c
            lost += int(np.sum(changed & vis))
            visible += int(np.sum(vis))
            wrong += int(np.sum(changed & (cur_p != fail_read)))
            if f is None:
                wrong += int(p[0, ch] != c[0, ch])  # nothing to hold at reset: the reading is delivered
    return {"rate": lost / max(visible, 1), "n": float(visible), "wrong": float(wrong)}


def check_rate(rate: float, n: float, p: float) -> None:
    assert n > 0 and abs(rate - p) <= 5 * math.sqrt(p * (1 - p) / n) + 1e-12, (rate, p, n)


def measure_frozen(episodes: list[tuple[np.ndarray, np.ndarray]], channels: list[int]) -> dict[str, Any]:
    """Frozen fraction, spell-start rate and spell lengths on channels whose true value changes every step."""
    frozen_steps = total = starts = eligible = 0
    lengths: list[int] = []
    repeats_previous = True
    for p, c in episodes:
        for ch in channels:
            if not np.all(np.diff(c[:, ch]) != 0):
                continue
            frozen = p[:, ch] != c[:, ch]
            frozen_steps += int(frozen[1:].sum())
            total += len(frozen) - 1
            edges = np.diff(np.r_[0, frozen.astype(int), 0])
            begin, end = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
            starts += len(begin)
            eligible += int((~frozen[:-1]).sum())
            # Spells still running when the episode ends are cut short: leave them out.
            lengths += [int(e - b) for b, e in zip(begin, end) if e < len(frozen)]
            # A stuck sensor repeats the reading it reported just before.
            repeats_previous &= bool(np.array_equal(p[begin, ch], p[begin - 1, ch]))
    return {"fraction": frozen_steps / max(total, 1), "start_rate": starts / max(eligible, 1),
            "eligible": eligible, "lengths": lengths, "repeats_previous": repeats_previous}


def measure_drift(episodes: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Per channel, the least-squares slope of |perturbed - clean| against time (units per second)."""
    num = np.zeros(len(NAMES))
    den = np.zeros(len(NAMES))
    for p, c in episodes:
        t = np.arange(len(c))[:, None] * DT
        num += np.sum(np.abs(p - c) * t, axis=0)
        den += np.sum(t * t, axis=0)
    return num / den


# ---------------------------------------------------------------- physical measurements
def straight_run(env: gym.Env, seed: int = 0) -> dict[str, float]:
    """Full speed ahead for 2 s, then speed command 0 for 2 s (wheels straight).

    Returns the time to reach 0.45 m/s (90 % of top speed) and the
    distance rolled after the stop command, in cm.
    """
    actions = np.array([(0.0, 1.0)] * 40 + [(0.0, 0.0)] * 40, np.float32)
    run = drive(env, actions, seed)
    v, x = run["speed"], run["pose"][:, 0]
    reached = np.flatnonzero(v >= 0.45)
    return {"t90_s": float((reached[0] + 1) * DT) if reached.size else math.inf,
            "stop_cm": float((x[-1] - x[39]) * 100)}


def full_lock_turn(env: gym.Env, seed: int = 0) -> dict[str, float]:
    """3 s at full left lock and full speed ahead: path radius (distance / heading change), m."""
    run = drive(env, np.array([(1.0, 1.0)] * 60, np.float32), seed)
    heading = run["pose"][:, 2]
    distance = float(np.sum(np.abs(run["speed"])) * DT)
    return {"radius_m": distance / float(heading[-1] - heading[0])}


def car_mass(env: gym.Env) -> float:
    """Total mass of the car subtree in the compiled model, kg."""
    u = env.unwrapped
    m = u.model
    return float(m.body_mass[m.body_rootid == u.car.body].sum())


def bicycle_angle(steering_obs: np.ndarray) -> np.ndarray:
    """Invert the env's steering observation (mean of the two Ackermann wheel angles) to the bicycle angle."""
    delta = np.linspace(-0.45, 0.45, 20001)
    kappa = np.tan(delta) / pc.WHEELBASE
    half = 0.5 * pc.TRACK
    mean = 0.5 * (np.arctan(pc.WHEELBASE * kappa / (1 - half * kappa))
                  + np.arctan(pc.WHEELBASE * kappa / (1 + half * kappa)))
    return np.interp(steering_obs, mean, delta)


#: left lock, centre, right lock, centre (2 s each), then left lock and straight to right lock.
SERVO_COMMANDS = np.array([(1, 0)] * 40 + [(0, 0)] * 40 + [(-1, 0)] * 40 + [(0, 0)] * 40
                          + [(1, 0)] * 40 + [(-1, 0)] * 40, np.float32)


def measure_servo(env: gym.Env, seed: int = 0) -> dict[str, float]:
    """Offset, backlash and slew rate of the steering, read from the "steering" observation.

    A centred command reached from the left settles at offset + b/2, reached
    from the right at offset - b/2 (b = backlash); the slew rate is the
    plateau of the angle's rate of change in the final lock-to-lock swing.
    """
    steer = bicycle_angle(drive(env, SERVO_COMMANDS, seed)["obs"][:, CH["steering"]])
    from_left, from_right = steer[79], steer[159]
    rate = np.abs(np.diff(steer[199:])) / DT
    return {"offset_rad": float(0.5 * (from_left + from_right)), "backlash_rad": float(from_left - from_right),
            "slew_rad_s": float(np.median(rate[rate > 0.5 * rate.max()]))}


# ---------------------------------------------------------------- verifiers: what each perturbation claims
# verify_<name>(wrap, severity) builds a parking env, wraps it with ``wrap``
# (the perturbation's ``apply``, or an identity wrapper in test_probes) and
# asserts the documented amounts. Levels come from the catalog.
Wrap = Callable[[gym.Env], gym.Env]
EPISODE = wiggle(800)


def _level(name: str, severity: int) -> Any:
    return PERTURBATIONS[name].levels[severity]


def verify_obs_noise(wrap: Wrap, severity: int) -> None:
    """σ = fraction x scale on every channel (±5 %), zero mean, "no echo" (2 m) readings unchanged."""
    env = wrap(parking())
    episodes = lockstep(env, EPISODE, seeds=[0, 1, 2, 3, 4])
    check_noise(measure_noise(episodes), _level("obs_noise", severity) * SCALES, list(range(len(NAMES))))
    for p, _ in episodes:  # unclipped noise stays inside the (widened) observation space
        assert all(env.observation_space.contains(row.astype(np.float32)) for row in p[::50])


def verify_obs_bias_drift(wrap: Wrap, severity: int) -> None:
    """|bias| = rate x scale x t exactly, from zero at reset; "no echo" readings unchanged."""
    episodes = lockstep(wrap(parking()), EPISODE[:400], seeds=[0, 1])
    rate = _level("obs_bias_drift", severity) * SCALES
    for p, c in episodes:
        t = np.arange(len(c))[:, None] * DT
        expected = np.where((c == pc.MAX_RANGE) & np.isin(np.arange(len(NAMES)), RANGE), 0.0, rate * t)
        np.testing.assert_allclose(np.abs(p - c), expected, atol=2e-6)
    slope = measure_drift(episodes)
    free = [ch for ch in range(len(NAMES)) if ch not in RANGE]
    np.testing.assert_allclose(slope[free], rate[free], rtol=1e-3)


def verify_sensor_dropout(wrap: Wrap, severity: int, value: float | None = None) -> None:
    """Lost at rate p; a lost range reads 2 m (no echo), pose / speed / steering repeat the last value.

    ``value`` (a number) is the explicit fail value every lost reading must read instead.
    """
    episodes = lockstep(wrap(parking()), EPISODE, seeds=[0, 1, 2, 3, 4])
    fail: dict[int, float | None] = {ch: (pc.MAX_RANGE if ch in RANGE else None) for ch in range(len(NAMES))}
    if value is not None:
        fail = dict.fromkeys(fail, value)
    m = measure_dropout(episodes, list(range(len(NAMES))), fail)
    assert m["wrong"] == 0, "a lost reading read something other than its fail value"
    check_rate(m["rate"], m["n"], _level("sensor_dropout", severity))


def verify_frozen_sensor(wrap: Wrap, severity: int) -> None:
    """Spells of exactly hold_s / period steps (or back-to-back multiples), started at rate p per step."""
    level = _level("frozen_sensor", severity)
    hold = round(level["hold_s"] / DT)
    m = measure_frozen(lockstep(wrap(parking()), EPISODE, seeds=list(range(10))), POSE_SPEED_STEER)
    assert m["lengths"] and all(n % hold == 0 for n in m["lengths"]), m["lengths"][:10]
    assert m["repeats_previous"]
    check_rate(m["start_rate"], m["eligible"], level["p_start"])
    p = level["p_start"]
    expected = p * hold / (1 + p * hold)
    assert abs(m["fraction"] - expected) <= 0.2 * expected, (m["fraction"], expected)


def verify_obs_delay(wrap: Wrap, severity: int) -> None:
    """Every channel arrives seconds / period steps late, the reset reading repeated meanwhile."""
    episodes = lockstep(wrap(parking()), EPISODE[:200], seeds=[0, 1])
    assert measure_lag(episodes, list(range(len(NAMES)))) == round(_level("obs_delay", severity) / DT)


def verify_rain(wrap: Wrap, severity: int) -> None:
    """Road and tyre friction x f; range noise σ (zero mean, no echo kept); range losses read 2 m; rest untouched."""
    level = _level("rain", severity)
    env = wrap(parking())
    env.reset(seed=0)
    u = env.unwrapped
    np.testing.assert_allclose(u.model.geom_friction[u.car.grip_geoms, 0], level["friction"] * u.car.base_friction)
    clean = parking()
    clean.unwrapped.set_physics(friction_scale=level["friction"])
    episodes = lockstep(env, EPISODE, seeds=[0, 1, 2, 3, 4], clean=clean)
    other = [ch for ch in range(len(NAMES)) if ch not in RANGE]
    for p, c in episodes:
        np.testing.assert_array_equal(p[:, other], c[:, other])
        no_echo = c[:, RANGE] == pc.MAX_RANGE
        np.testing.assert_array_equal(p[:, RANGE][no_echo], pc.MAX_RANGE)
    ranges_p = np.concatenate([p[:, RANGE] for p, _ in episodes])
    ranges_c = np.concatenate([c[:, RANGE] for _, c in episodes])
    echo = ranges_c != pc.MAX_RANGE
    lost = echo & (ranges_p == pc.MAX_RANGE)
    check_rate(lost.sum() / echo.sum(), echo.sum(), level["range_dropout"])
    err = (ranges_p - ranges_c)[echo & ~lost]
    assert abs(err.std() - level["range_sigma"]) <= 0.05 * level["range_sigma"], err.std()
    assert abs(err.mean()) <= 5 * level["range_sigma"] / math.sqrt(err.size)


def verify_action_noise(wrap: Wrap, severity: int) -> None:
    """The action reaching the car = command + N(0, σ) clipped to [-1, 1]; σ within 6 %."""
    sigma = _level("action_noise", severity)
    recorder = ActionRecorder(parking())
    env = wrap(recorder)
    for seed in range(8):
        env.reset(seed=seed)
        for _ in range(750):
            env.step(np.zeros(2, np.float32))
    got = np.array(recorder.received)
    assert np.all(np.abs(got) <= 1.0)
    # Median absolute deviation / 0.6745 estimates sigma, unaffected by the clipping at +-1.
    np.testing.assert_allclose(np.median(np.abs(got), axis=0) / 0.6745, sigma, rtol=0.06)
    assert np.all(np.abs(got.mean(axis=0)) <= 5 * sigma / math.sqrt(len(got)))


def verify_action_delay(wrap: Wrap, severity: int) -> None:
    """Commands arrive seconds / period steps late (neutral before); the car moves as if driven late."""
    delay = round(_level("action_delay", severity) / DT)
    sent = EPISODE[:200]
    recorder = ActionRecorder(parking())
    env = wrap(recorder)
    late = drive(env, sent, seed=3)
    got = np.array(recorder.received)
    np.testing.assert_array_equal(got[:delay], 0.0)
    np.testing.assert_array_equal(got[delay:], sent[:len(sent) - delay])
    shifted = np.concatenate([np.zeros((delay, 2), np.float32), sent[:len(sent) - delay]])
    np.testing.assert_array_equal(late["obs"], drive(parking(), shifted, seed=3)["obs"])


def verify_steer_servo(wrap: Wrap, severity: int) -> None:
    """Offset, slew limit and backlash of the table, measured on the steering angle; speed untouched."""
    level = _level("steer_servo", severity)
    recorder = ActionRecorder(parking())
    env = wrap(recorder)
    m = measure_servo(env)
    np.testing.assert_allclose(abs(m["offset_rad"]), level["offset"] * pc.MAX_STEER, rtol=0.02)
    np.testing.assert_allclose(m["backlash_rad"], level["backlash_rad"], rtol=0.02)
    np.testing.assert_allclose(m["slew_rad_s"], level["slew_rad_s"], rtol=0.02)
    np.testing.assert_array_equal(np.array(recorder.received)[:, 1], SERVO_COMMANDS[:, 1])


def physics_effects(env: gym.Env) -> tuple[float, float, float]:
    run, turn = straight_run(env), full_lock_turn(env)
    return run["t90_s"], run["stop_cm"], turn["radius_m"]


def check_effects(measured: tuple[float, float, float], documented: tuple[float, float, float]) -> None:
    """Within the rounding of the documented numbers (0.05 s grid, 0.1 cm, 1 mm)."""
    t90, stop, radius = measured
    assert abs(t90 - documented[0]) < 1e-6 and abs(stop - documented[1]) <= 0.051 \
        and abs(radius - documented[2]) <= 0.0006, (measured, documented)


def verify_friction(wrap: Wrap, severity: int) -> None:
    """Tyre and road sliding friction x f in the model (nothing else); the measured effects of the table."""
    level = _level("friction", severity)
    env = wrap(parking())
    env.reset(seed=0)
    u = env.unwrapped
    m, nominal = u.model, parking().unwrapped.model
    expected = nominal.geom_friction.copy()
    expected[u.car.grip_geoms, 0] *= level
    np.testing.assert_allclose(m.geom_friction, expected, rtol=1e-12)
    check_effects(physics_effects(env), FRICTION_EFFECTS[level])


def verify_mass(wrap: Wrap, severity: int) -> None:
    """Every car body's mass and inertia x s: total car mass = s x 3.4 kg; the measured effects of the table."""
    level = _level("mass", severity)
    env = wrap(parking())
    env.reset(seed=0)
    u, nominal = env.unwrapped, parking().unwrapped.model
    car = u.model.body_rootid == u.car.body
    assert car.sum() == 7  # chassis, 2 steering knuckles, 4 wheels
    np.testing.assert_allclose(car_mass(env), level * pc.CAR_MASS, rtol=1e-12)
    np.testing.assert_allclose(u.model.body_subtreemass[u.car.body], level * pc.CAR_MASS, rtol=1e-12)
    np.testing.assert_allclose(u.model.body_inertia[car], level * nominal.body_inertia[car], rtol=1e-12)
    np.testing.assert_array_equal(u.model.body_mass[~car], nominal.body_mass[~car])
    check_effects(physics_effects(env), MASS_EFFECTS[level])


VERIFY: dict[str, Callable[[Wrap, int], None]] = {
    "obs_noise": verify_obs_noise,
    "obs_bias_drift": verify_obs_bias_drift,
    "sensor_dropout": verify_sensor_dropout,
    "frozen_sensor": verify_frozen_sensor,
    "obs_delay": verify_obs_delay,
    "rain": verify_rain,
    "action_noise": verify_action_noise,
    "action_delay": verify_action_delay,
    "steer_servo": verify_steer_servo,
    "friction": verify_friction,
    "mass": verify_mass,
}
