"""Drone-v0 as a Gymnasium env: API, determinism, rewards, the airframe's physics and signs, errors."""

from __future__ import annotations

import math

import gymnasium as gym
import mujoco
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from liquidcontrol.envs import drone_constants as dc
from liquidcontrol.envs.drone import CONTROL_PERIODS, RATE_SCALE, DroneEnv
from liquidcontrol.envs.drone_task import DRONE_ID

from liquidcontrol.errors import LiquidControlError

HOVER_R = dc.CRAZYFLIE.hover_speed
HOVER_MOTOR_ACTION = 2.0 * HOVER_R - 1.0


def _place(env: DroneEnv, z: float = 0.8, yaw: float = 0.0) -> None:
    """Put the drone at rest, level, at (0, 0, z) with its motors at hover speed (after a reset)."""
    d = env.data
    d.qpos[env._qpos0:env._qpos0 + 7] = (0.0, 0.0, z, math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2))
    d.qvel[env._qvel0:env._qvel0 + 6] = 0.0
    mujoco.mj_forward(env.model, d)
    env._read_state()


def _rollout(env: gym.Env, seed: int, steps: int) -> list[np.ndarray]:
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    out = [obs]
    for _ in range(steps):
        obs, _, terminated, truncated, _ = env.step(rng.uniform(-0.3, 0.3, 4).astype(np.float32))
        out.append(obs)
        if terminated or truncated:
            break
    return out


@pytest.mark.parametrize("mode", ["rates", "motors"])
def test_check_env_passes(mode):
    check_env(gym.make(DRONE_ID, action_mode=mode, render_mode="rgb_array").unwrapped, skip_render_check=False)


def test_layouts_describe_the_spaces():
    for mode in ("rates", "motors"):
        env = DroneEnv(action_mode=mode)
        assert len(env.observation_layout) == env.observation_space.shape[0] == 22
        assert {e["group"] for e in env.observation_layout} == {"attitude", "gyro", "velocity", "position", "action"}
        assert all(e["fail_value"] == "hold" and e["scale"] > 0 and e["unit"] for e in env.observation_layout)
        assert len(env.action_layout) == 4
        assert env.control_period == CONTROL_PERIODS[mode] == pytest.approx(env.model.opt.timestep * env.frame_skip)
    rates = DroneEnv()
    assert [e["name"] for e in rates.action_layout] == ["collective_thrust", "roll_rate", "pitch_rate", "yaw_rate"]
    assert rates.action_layout[0]["offset"] == pytest.approx(dc.CRAZYFLIE.mass * dc.GRAVITY)


def test_model_matches_the_constants():
    for airframe in dc.AIRFRAMES.values():
        env = DroneEnv(airframe=airframe.name)
        m = env.model
        assert m.opt.timestep == 0.002
        assert m.body_mass[env._body] == pytest.approx(airframe.mass)
        np.testing.assert_allclose(m.body_inertia[env._body], airframe.inertia)
        for i, (site, act) in enumerate(zip(dc.ROTOR_SITES, dc.ROTOR_ACTUATORS)):
            sid = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, site)
            np.testing.assert_allclose(m.site_pos[sid][:2], airframe.rotor_positions[i])
            aid = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_ACTUATOR, act)
            assert m.actuator_trnid[aid, 0] == sid
            np.testing.assert_allclose(m.actuator_gear[aid],
                                       [0, 0, 1, 0, 0, dc.YAW_DIRECTIONS[i] * airframe.torque_coefficient])


def test_crazyflie_numbers():
    cf = dc.CRAZYFLIE
    assert cf.hover_speed == pytest.approx(0.806, abs=1e-3)
    assert cf.thrust_to_weight == pytest.approx(1.47, abs=0.01)
    assert cf.thrust(cf.hover_speed) == pytest.approx(cf.mass * dc.GRAVITY / 4)


def test_same_seed_same_rollout_and_seeds_differ():
    for mode in ("rates", "motors"):
        a = _rollout(DroneEnv(action_mode=mode), seed=7, steps=80)
        b = _rollout(DroneEnv(action_mode=mode), seed=7, steps=80)
        c = _rollout(DroneEnv(action_mode=mode), seed=8, steps=80)
        assert len(a) == len(b)
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
        assert not np.array_equal(a[0], c[0])


def test_reward_terms_sum_to_reward_and_info_is_complete():
    for mode in ("rates", "motors"):
        env = DroneEnv(action_mode=mode)
        env.reset(seed=3)
        rng = np.random.default_rng(0)
        for _ in range(200):
            _, reward, terminated, truncated, info = env.step(rng.uniform(-0.2, 0.2, 4))
            terms = [v for k, v in info.items() if k.startswith("reward_")]
            assert len(terms) == 4 and reward == pytest.approx(sum(terms))
            assert {"is_success", "crash", "tilt", "spin", "out_of_bounds", "unstable", "collision", "position",
                    "tracking_error_m", "targets_reached", "course_time_s"} <= set(info)
            assert info["tracking_error_m"] == pytest.approx(math.dist(info["position"], info["target"]))
            if terminated or truncated:
                break
        assert terminated and info["reward_crash"] == -10.0 and not info["is_success"]


def test_start_and_course_are_in_the_documented_ranges():
    env = DroneEnv()
    for seed in range(20):
        obs, info = env.reset(seed=seed)
        x, y, z = info["position"]
        assert abs(x) <= 0.6 and abs(y) <= 0.6 and 0.2 <= z <= 0.3
        previous = info["position"]
        for t in env.targets:
            assert abs(t[0]) <= 0.7 and abs(t[1]) <= 0.7 and 0.4 <= t[2] <= 1.2
            assert math.dist(t, previous) >= 0.5
            previous = t
        assert env.observation_space.contains(obs)
        np.testing.assert_allclose(obs[15:18], np.subtract(env.targets[0], info["position"]), atol=1e-6)
        assert env.true_state().motor_speeds == (HOVER_R,) * 4


def test_true_state_frames():
    env = DroneEnv()
    env.reset(seed=0)
    yaw = 0.7
    _place(env, yaw=yaw)
    s = env.true_state()
    assert s.quaternion == pytest.approx((math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)))
    # Body x (first column) points along the yaw angle in the world.
    R = np.array(s.rotation).reshape(3, 3)
    np.testing.assert_allclose(R[:, 0], [math.cos(yaw), math.sin(yaw), 0.0], atol=1e-12)
    np.testing.assert_allclose(R, env.data.xmat[env._body].reshape(3, 3), atol=1e-12)


def test_hover_command_holds_altitude_in_motors_mode():
    """m g / 4 per rotor (the hover command) holds the height: drift < 1 cm over 2 s."""
    env = DroneEnv(action_mode="motors")
    env.reset(seed=0)
    _place(env)
    action = np.full(4, HOVER_MOTOR_ACTION, np.float32)
    for _ in range(round(2.0 / env.control_period)):
        _, _, terminated, _, info = env.step(action)
        assert not terminated
    assert np.linalg.norm(np.subtract(info["position"], (0.0, 0.0, 0.8))) < 0.01
    # Each rotor's thrust control is m g / 4 (up to the float32 command).
    np.testing.assert_allclose(env.data.ctrl[:4], dc.CRAZYFLIE.mass * dc.GRAVITY / 4, rtol=1e-6)


def _yaw_rate_after_step(rotors: tuple[int, ...], delta: float = 0.1, steps: int = 10) -> float:
    env = DroneEnv(action_mode="motors")
    env.reset(seed=0)
    _place(env)
    action = np.full(4, HOVER_MOTOR_ACTION, np.float32)
    action[list(rotors)] += delta
    for _ in range(steps):
        env.step(action)
    return env.true_state().body_rates[2]


def test_yaw_torque_signs_match_the_numbering():
    """Directions -1, +1, -1, +1: speeding up rotors 0 and 2 yaws clockwise (r < 0), 1 and 3 counter-clockwise."""
    r02, r13 = _yaw_rate_after_step((0, 2)), _yaw_rate_after_step((1, 3))
    assert r02 < -0.05 and r13 > 0.05


def _after_motor_step(rotors: tuple[int, ...], steps: int = 5) -> tuple[np.ndarray, np.ndarray]:
    env = DroneEnv(action_mode="motors")
    env.reset(seed=0)
    _place(env)
    action = np.full(4, HOVER_MOTOR_ACTION, np.float32)
    action[list(rotors)] += 0.05
    for _ in range(steps):
        env.step(action)
    s = env.true_state()
    return np.array(s.body_rates), np.array(s.rotation).reshape(3, 3)


def test_motor_steps_roll_and_pitch_as_rep103_says():
    """Body FLU, rotors 0 (+x,-y) 1 (-x,-y) 2 (-x,+y) 3 (+x,+y). Torque = r x F = (y T, -x T, 0):
    more thrust on the +y rotors (2, 3) gives +roll (right side down, body z tilts towards -y);
    on the +x rotors (0, 3) -pitch (nose up, body z tilts towards -x)."""
    w, R = _after_motor_step((2, 3))
    assert w[0] > 0.1 and abs(w[1]) < 1e-6 * abs(w[0]) + 1e-9 and R[1, 2] < 0  # body z has a -y component
    w, R = _after_motor_step((0, 3))
    assert w[1] < -0.1 and abs(w[0]) < 1e-6 * abs(w[1]) + 1e-9 and R[0, 2] < 0  # body z has a -x component
    w, _ = _after_motor_step((0,))  # rotor 0 alone at (+x, -y): -roll and -pitch
    assert w[0] < -0.05 and w[1] < -0.05


def test_motor_lag_time_constants_from_a_step_response():
    """First-order lag on r: 63 % of a step after 0.055 s rising, 0.249 s falling (within 10 %)."""
    env = DroneEnv(action_mode="motors")
    dt = env.physics_dt
    env.frame_skip = 1  # one physics step per env step, to sample the response finely
    for start, end, expected in ((0.3, 0.9, 0.055), (0.9, 0.3, 0.249)):
        env.reset(seed=0)
        _place(env)
        env._r = [start] * 4
        t, speeds = 0.0, []
        while t < 3 * expected:
            env.step(np.full(4, 2 * end - 1, np.float32))
            t += dt
            speeds.append(env.true_state().motor_speeds[0])
        fraction = (np.array(speeds) - start) / (end - start)
        crossing = (np.argmax(fraction >= 1 - math.exp(-1)) + 1) * dt
        assert crossing == pytest.approx(expected, rel=0.1)


def test_rates_mode_tracks_a_body_rate_step():
    env = DroneEnv()
    for axis, amplitude in ((0, 2.0), (1, -2.0), (2, 1.0)):
        env.reset(seed=0)
        _place(env)
        action = np.zeros(4, np.float32)
        action[1 + axis] = amplitude / RATE_SCALE[axis]
        rates = []
        for _ in range(10):  # 0.2 s
            env.step(action)
            rates.append(env.true_state().body_rates)
        rates_arr = np.array(rates)
        assert rates_arr[-1, axis] == pytest.approx(amplitude, rel=0.1)  # settled within 10 %
        assert abs(rates_arr[:, axis]).max() < 1.2 * abs(amplitude)  # overshoot under 20 %
        others = [k for k in range(3) if k != axis]
        assert np.abs(rates_arr[:, others]).max() < 0.05 * abs(amplitude)
        assert abs(rates_arr[2 if axis < 2 else 4, axis]) > 0.5 * abs(amplitude)  # rising within 60 / 100 ms


def test_rates_mode_zero_action_hovers():
    env = DroneEnv()
    env.reset(seed=0)
    _place(env)
    for _ in range(100):
        _, _, terminated, _, info = env.step(np.zeros(4, np.float32))
        assert not terminated
    assert np.linalg.norm(np.subtract(info["position"], (0.0, 0.0, 0.8))) < 0.01


def test_falling_out_of_the_sky_is_a_crash():
    env = DroneEnv(action_mode="motors")
    env.reset(seed=0)
    for _ in range(200):
        _, _, terminated, truncated, info = env.step(-np.ones(4, np.float32))
        if terminated or truncated:
            break
    assert terminated and info["crash"] and info["collision"] and info["reward_crash"] == -10.0


def test_tilt_and_arena_end_the_episode():
    env = DroneEnv()
    env.reset(seed=0)
    _place(env)
    for _ in range(50):
        _, _, terminated, _, info = env.step(np.array([0.0, 1.0, 0.0, 0.0], np.float32))
        if terminated:
            break
    assert terminated and info["tilt"]
    env.reset(seed=0)
    _place(env, z=1.45)
    for _ in range(50):
        _, _, terminated, _, info = env.step(np.array([1.0, 0.0, 0.0, 0.0], np.float32))
        if terminated:
            break
    assert terminated and info["out_of_bounds"] and not info["crash"]


def test_time_limit_truncates():
    env = DroneEnv(max_episode_seconds=0.5)
    env.reset(seed=0)
    _place(env)
    steps, terminated, truncated = 0, False, False
    while not (terminated or truncated) and steps < 100:
        _, _, terminated, truncated, _ = env.step(np.zeros(4, np.float32))
        steps += 1
    assert truncated and not terminated and steps == 25


def test_instability_ends_the_episode_with_a_flag():
    env = DroneEnv()
    env.reset(seed=0)
    # Absurd (but finite) speed: the env's own bound catches it before MuJoCo would warn.
    env.data.qvel[env._qvel0:env._qvel0 + 3] = 2e3
    obs, reward, terminated, _, info = env.step(np.zeros(4, np.float32))
    assert terminated and info["unstable"] and np.all(np.isfinite(obs)) and reward == -10.0


def test_bad_inputs_raise_one_clear_error():
    with pytest.raises(LiquidControlError, match="action_mode"):
        DroneEnv(action_mode="thrust")
    with pytest.raises(LiquidControlError, match="airframe"):
        DroneEnv(airframe="f450")
    with pytest.raises(LiquidControlError, match="camera"):
        DroneEnv(camera="fpv")
    with pytest.raises(LiquidControlError, match="render_mode"):
        DroneEnv(render_mode="human")
    env = DroneEnv()
    env.reset(seed=0)
    with pytest.raises(LiquidControlError, match="NaN"):
        env.step(np.array([0.0, np.nan, 0.0, 0.0]))
    with pytest.raises(LiquidControlError, match="shape"):
        env.step(np.zeros(2))
    for bad in (dict(mass_scale=0.0), dict(thrust_scale=float("nan")), dict(motor_tau_up_scale=-1.0),
                dict(torque_scale=True)):
        with pytest.raises(LiquidControlError, match=next(iter(bad))):
            env.set_physics(**bad)
    with pytest.raises(LiquidControlError, match="friction_scale"):
        env.set_physics(friction_scale=0.5)


def test_set_physics_applies_from_next_reset():
    env = DroneEnv(action_mode="motors")
    env.reset(seed=0)
    env.set_physics(mass_scale=1.2, inertia_scale=1.5, torque_scale=0.5, thrust_scale=0.9, motor_tau_up_scale=2.0)
    assert env.model.body_mass[env._body] == pytest.approx(dc.CRAZYFLIE.mass)
    env.reset(seed=0)
    assert env.model.body_mass[env._body] == pytest.approx(1.2 * dc.CRAZYFLIE.mass)
    np.testing.assert_allclose(env.model.body_inertia[env._body], np.multiply(dc.CRAZYFLIE.inertia, 1.2 * 1.5))
    assert env.model.actuator_gear[0, 5] == pytest.approx(-0.5 * dc.CRAZYFLIE.torque_coefficient)
    assert env._thrust(1.0) == pytest.approx(0.9 * dc.CRAZYFLIE.max_thrust)
    assert env._up == pytest.approx(math.exp(-env.physics_dt / (2 * 0.055)))
    # The PhysicsScale wrapper (the mass perturbation) drives the same interface.
    from liquidcontrol.perturb import make_perturbation
    wrapped = make_perturbation("mass", 1).apply(DroneEnv())
    wrapped.reset(seed=0)
    assert wrapped.unwrapped.model.body_mass[wrapped.unwrapped._body] == pytest.approx(1.1 * dc.CRAZYFLIE.mass)
    env.set_physics()
    env.reset(seed=0)
    assert env.model.body_mass[env._body] == pytest.approx(dc.CRAZYFLIE.mass)


def test_x250_hovers_and_both_cameras_render():
    env = DroneEnv(airframe="x250", action_mode="motors")
    env.reset(seed=0)
    _place(env)
    hover = np.full(4, 2 * dc.X250.hover_speed - 1, np.float32)
    for _ in range(100):
        _, _, terminated, _, info = env.step(hover)
    assert not terminated and abs(info["position"][2] - 0.8) < 0.01
    for camera in dc.CAMERAS:
        env = gym.make(DRONE_ID, render_mode="rgb_array", camera=camera)
        env.reset(seed=0)
        frame = env.render()
        assert frame.shape == (240, 320, 3) and frame.dtype == np.uint8 and frame.std() > 10
        env.close()


# ---------------------------------------------------------------- hooks: wind, rotor scale, randomisation
def test_no_wind_no_drag_and_a_steady_wind_drags_at_physics_rate():
    env = DroneEnv(action_mode="motors")
    env.reset(seed=0)
    _place(env)
    hover = np.full(4, HOVER_MOTOR_ACTION, np.float32)
    env.step(hover)
    assert env.wind_function is None and not env.data.xfrc_applied.any()
    assert env.true_state().velocity[:2] == (0.0, 0.0)
    wind = np.array([2.0, -1.0, 0.0])
    env.set_wind(tuple(wind))
    c, m, dt = dc.CRAZYFLIE.drag_coefficient, dc.CRAZYFLIE.mass, env.physics_dt
    v = v_last = np.zeros(3)
    for _ in range(3):
        env.step(hover)
        for _ in range(env.frame_skip):  # F = c (w - v) at every physics step, Euler integration
            v_last, v = v, v + dt * c * (wind - v) / m
    np.testing.assert_allclose(env.true_state().velocity[:2], v[:2], rtol=1e-9)
    assert env.wind_velocity == (2.0, -1.0, 0.0)
    np.testing.assert_allclose(env.drag_force[:2], c * (wind - v_last)[:2], rtol=1e-9)
    env.reset(seed=1)  # the wind is kept across resets ...
    assert env.wind_function is not None and env.wind_function(0.0) == (2.0, -1.0, 0.0)
    env.set_wind(None)  # ... until removed
    assert env.wind_function is None and not env.data.xfrc_applied.any()
    for bad in ((1.0, 2.0), (0.0, float("nan"), 0.0), "east", (True, 0.0, 0.0)):
        with pytest.raises(LiquidControlError, match="wind .* is invalid"):
            env.set_wind(bad)


def test_wind_function_is_called_once_per_physics_step_with_the_simulation_time():
    env = DroneEnv()
    env.reset(seed=0)
    calls: list[float] = []
    env.set_wind(lambda t: calls.append(t) or (0.0, 0.0, 0.0))
    for _ in range(3):
        env.step(np.zeros(4, np.float32))
    np.testing.assert_allclose(calls, np.arange(30) * env.physics_dt, atol=1e-12)


def test_rotor_scale_hook_scales_one_rotor_and_its_reaction_torque():
    env = DroneEnv(action_mode="motors")
    env.reset(seed=0)
    env.set_rotor_scale(2, 0.7)
    assert env.rotor_scales == (1.0, 1.0, 0.7, 1.0)
    _place(env)
    env.step(np.full(4, HOVER_MOTOR_ACTION, np.float32))
    hover = dc.CRAZYFLIE.hover_thrust
    np.testing.assert_allclose(env.data.actuator_force[:4], np.array([1, 1, 0.7, 1]) * hover, rtol=1e-6)
    # The motor actuator's gear turns the same force into the reaction torque: rotor 2 (direction -1) lost
    # 30 % of its share, so the net yaw torque is +0.3 k T.
    yaw = env.data.qfrc_actuator[env._qvel0 + 5]
    assert yaw == pytest.approx(0.3 * dc.CRAZYFLIE.torque_coefficient * hover, rel=1e-5)
    env.reset(seed=1)
    assert env.rotor_scales == (1.0, 1.0, 0.7, 1.0)  # kept across resets
    env.set_rotor_scale(None)
    assert env.rotor_scales == (1.0,) * 4
    for bad in (4, -1, 1.5, True):
        with pytest.raises(LiquidControlError, match="rotor index"):
            env.set_rotor_scale(bad, 0.5)
    for scales in ((1, 1, 1), (1, 1, 1, -0.1), (1, 1, 1, float("inf"))):
        with pytest.raises(LiquidControlError, match="rotor scales"):
            env.set_rotor_scales(scales)


RANDOM = {"mass": 0.2, "thrust": 0.1, "motor_tau": 0.3, "inertia": 0.2}


def test_randomize_draws_factors_per_episode_seed_within_the_ranges():
    env = DroneEnv(randomize=RANDOM)
    draws = []
    for seed in range(40):
        env.reset(seed=seed)
        f = env.randomized_factors
        draws.append([f[k] for k in ("mass", "inertia", "thrust", "torque", "motor_tau")])
        p = env.physics()
        assert p["mass_scale"] == f["mass"] and p["inertia_scale"] == f["inertia"]
        assert p["thrust_scale"] == f["thrust"] and p["motor_tau_up_scale"] == p["motor_tau_down_scale"] == f["motor_tau"]
        assert env.model.body_mass[env._body] == pytest.approx(f["mass"] * dc.CRAZYFLIE.mass)
        np.testing.assert_allclose(env.model.body_inertia[env._body],
                                   np.multiply(dc.CRAZYFLIE.inertia, f["mass"] * f["inertia"]))
        assert env._thrust(1.0) == pytest.approx(f["thrust"] * dc.CRAZYFLIE.max_thrust)
        assert env._up == pytest.approx(math.exp(-env.physics_dt / (f["motor_tau"] * dc.CRAZYFLIE.motor_tau_up)))
    d = np.array(draws)
    for col, key in enumerate(("mass", "inertia", "thrust", "torque", "motor_tau")):
        half = RANDOM.get(key, 0.0)
        assert np.all(np.abs(d[:, col] - 1.0) <= half)
        if half:  # spread over the range, both sides
            assert d[:, col].max() > 1 + 0.7 * half and d[:, col].min() < 1 - 0.7 * half
        else:
            assert np.all(d[:, col] == 1.0)
    # The same seed gives the same plant (and another env the same), and the course does not depend on it.
    other, plain = DroneEnv(randomize=RANDOM), DroneEnv()
    for seed in (3, 17):
        env.reset(seed=seed)
        other.reset(seed=seed)
        plain.reset(seed=seed)
        assert env.physics() == other.physics() and env.targets == plain.targets
        np.testing.assert_array_equal(env.reset(seed=seed)[0], plain.reset(seed=seed)[0])
    assert plain.physics()["mass_scale"] == 1.0


def test_randomize_multiplies_set_physics_and_rejects_bad_arguments():
    env = DroneEnv(randomize={"mass": 0.1})
    env.set_physics(mass_scale=1.2)
    env.reset(seed=4)
    f = env.randomized_factors["mass"]
    assert f != 1.0 and env.physics()["mass_scale"] == pytest.approx(1.2 * f)
    gym.make(DRONE_ID, randomize={"thrust": 0.05}).reset(seed=0)  # through gym.make
    with pytest.raises(LiquidControlError, match=r"randomize key\(s\) \['drag'\] are unknown; choose from mass, "
                                                 r"inertia, thrust, torque, motor_tau"):
        DroneEnv(randomize={"drag": 0.1})
    for bad in ({"mass": 1.0}, {"mass": -0.1}, {"mass": "0.1"}, {"mass": True}, {"mass": float("nan")}):
        with pytest.raises(LiquidControlError, match=r"randomize\['mass'\]=.* is invalid; expected a \+-fraction"):
            DroneEnv(randomize=bad)
    with pytest.raises(LiquidControlError, match="randomize=.* is invalid"):
        DroneEnv(randomize=[("mass", 0.1)])


# ---------------------------------------------------------------------- IMU (gyro and accelerometer sensors)
def test_imu_site_and_sensors_are_at_the_centre_aligned_with_the_body():
    for airframe in dc.AIRFRAMES:
        m = DroneEnv(airframe=airframe).model
        site = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, dc.IMU_SITE)
        body = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, dc.DRONE_BODY)
        assert site >= 0 and m.site_bodyid[site] == body
        np.testing.assert_array_equal(m.site_pos[site], 0.0)
        np.testing.assert_array_equal(m.site_quat[site], (1.0, 0.0, 0.0, 0.0))
        np.testing.assert_array_equal(m.body_ipos[body], 0.0)  # the body origin is the centre of mass
        for name, kind in ((dc.GYRO_SENSOR, mujoco.mjtSensor.mjSENS_GYRO),
                           (dc.ACCELEROMETER_SENSOR, mujoco.mjtSensor.mjSENS_ACCELEROMETER)):
            sid = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SENSOR, name)
            assert sid >= 0 and m.sensor_type[sid] == kind and m.sensor_dim[sid] == 3
            assert m.sensor_objtype[sid] == mujoco.mjtObj.mjOBJ_SITE and m.sensor_objid[sid] == site
            assert m.sensor_noise[sid] == 0.0


def _old_observation(env: DroneEnv) -> np.ndarray:
    """The observation as the env computed it before the IMU sensors: body rates from the free joint's qvel."""
    from liquidcontrol.envs.drone import rotation_from_quaternion

    d, i, j = env.data, env._qpos0, env._qvel0
    x, y, z, qw, qx, qy, qz = d.qpos[i:i + 7].tolist()
    tx, ty, tz = env.current_target
    g = dc.GYRO_RANGE
    rates = [min(max(v, -g), g) for v in d.qvel[j + 3:j + 6].tolist()]
    vel = [min(max(v, -20.0), 20.0) for v in d.qvel[j:j + 3].tolist()]
    err = [min(max(v, -4.0), 4.0) for v in (tx - x, ty - y, tz - z)]
    return np.array((*rotation_from_quaternion(qw, qx, qy, qz), *rates, *vel, *err, *env._last_action), np.float32)


@pytest.mark.parametrize("airframe", sorted(dc.AIRFRAMES))
@pytest.mark.parametrize("mode", ["rates", "motors"])
def test_observation_from_the_gyro_equals_the_previous_one_over_200_steps(mode, airframe):
    env = DroneEnv(action_mode=mode, airframe=airframe)
    obs, _ = env.reset(seed=3)
    np.testing.assert_allclose(obs, _old_observation(env), rtol=0, atol=1e-6)
    rng = np.random.default_rng(7)
    base = 0.0 if mode == "rates" else 2.0 * env._hover_r - 1.0
    spread = 0.3 if mode == "rates" else 0.06
    moved = 0.0
    for _ in range(200):  # a fixed action sequence; the episode may end, the physics goes on regardless
        action = np.clip(base + spread * rng.uniform(-1.0, 1.0, 4), -1.0, 1.0).astype(np.float32)
        obs, *_ = env.step(action)
        assert obs.shape == (22,)
        np.testing.assert_allclose(obs, _old_observation(env), rtol=0, atol=1e-6)
        np.testing.assert_allclose(env.true_state().body_rates, env.data.qvel[env._qvel0 + 3:env._qvel0 + 6],
                                   rtol=0, atol=1e-9)
        moved = max(moved, float(np.abs(obs[9:12]).max()))
    assert moved > 0.5  # the sequence does turn the drone


@pytest.mark.parametrize("airframe", sorted(dc.AIRFRAMES))
def test_accelerometer_reads_plus_g_at_hover(airframe):
    env = DroneEnv(airframe=airframe)
    env.reset(seed=0)
    np.testing.assert_allclose(env.true_state().specific_force, (0.0, 0.0, dc.GRAVITY), rtol=0, atol=1e-9)
    _place(env, yaw=0.7)
    for _ in range(50):  # 1 s of zero-action hover in the "rates" mode
        env.step(np.zeros(4, np.float32))
        f = env.true_state().specific_force
        np.testing.assert_allclose(f, (0.0, 0.0, dc.GRAVITY), rtol=0, atol=0.01 * dc.GRAVITY)


@pytest.mark.parametrize("airframe", sorted(dc.AIRFRAMES))
@pytest.mark.parametrize("mode", ["rates", "motors"])
def test_accelerometer_reads_zero_in_free_fall(mode, airframe):
    env = DroneEnv(action_mode=mode, airframe=airframe)
    env.set_rotor_scales((0.0, 0.0, 0.0, 0.0))  # motors off: no thrust, no torque
    env.reset(seed=0)
    _place(env, z=1.0)
    for _ in range(3):  # the first physics steps of the fall
        env.step(np.zeros(4, np.float32))
        np.testing.assert_allclose(env.true_state().specific_force, 0.0, atol=1e-6)
        assert env.true_state().velocity[2] < 0.0


def test_gyro_equals_the_body_frame_angular_velocity_in_a_commanded_roll():
    env = DroneEnv()
    env.reset(seed=0)
    _place(env, yaw=0.7)
    action = np.array([0.0, 2.0 / RATE_SCALE[0], 0.5 / RATE_SCALE[1], 0.0], np.float32)
    for _ in range(10):  # 0.2 s
        obs, *_ = env.step(action)
        d = env.data
        R = d.xmat[env._body].reshape(3, 3)
        omega_world = d.cvel[env._body, :3]  # MuJoCo's angular velocity of the body, world frame
        s = env.true_state()
        np.testing.assert_allclose(s.body_rates, R.T @ omega_world, rtol=0, atol=1e-9)
        np.testing.assert_allclose(obs[9:12], R.T @ omega_world, rtol=0, atol=1e-5)
    assert s.body_rates[0] == pytest.approx(2.0, rel=0.1)
    assert np.abs(omega_world - s.body_rates).max() > 0.5  # yawed by 0.7 rad: the frame does matter


def test_randomized_factors_are_in_info_at_reset_and_every_step():
    env = DroneEnv(randomize=RANDOM)
    seen = []
    for seed in (0, 1):
        _, info = env.reset(seed=seed)
        factors = info["airframe_factors"]
        assert factors == env.randomized_factors and set(factors) == {"mass", "inertia", "thrust", "torque",
                                                                      "motor_tau"}
        assert all(type(v) is float for v in factors.values()) and factors["torque"] == 1.0
        for _ in range(20):
            *_, info = env.step(np.zeros(4, np.float32))
            assert info["airframe_factors"] == factors
        info["airframe_factors"]["mass"] = 99.0  # a copy: changing it changes nothing
        assert env.randomized_factors == factors
        seen.append(factors)
    assert seen[0] != seen[1]
    _, info = gym.make(DRONE_ID, randomize={"thrust": 0.05}).reset(seed=0)
    assert info["airframe_factors"]["thrust"] != 1.0
    plain = DroneEnv()
    assert "airframe_factors" not in plain.reset(seed=0)[1]
    assert "airframe_factors" not in plain.step(np.zeros(4, np.float32))[4]


def test_single_target_course_is_the_first_leg_of_the_same_seed_and_the_expert_flies_it():
    from liquidcontrol.tasks import get_task

    full, single = DroneEnv(), DroneEnv(n_targets=1, max_episode_seconds=8.0)
    for seed in (0, 7):
        full.reset(seed=seed)
        single.reset(seed=seed)
        assert single.targets == full.targets[:1]
        assert single.true_state().position == full.true_state().position
    task = get_task("drone_single")
    expert = task.make_expert()
    env = gym.make(task.env_id, **task.env_kwargs)
    wins = 0
    for seed in range(5):
        env.reset(seed=seed)
        expert.reset()
        for _ in range(400):
            _, _, term, trunc, info = env.step(expert.act(env))
            if term or trunc:
                break
        wins += bool(info["is_success"]) and info["targets_reached"] == 1
    assert wins == 5
    for bad in (0, 4, 1.5, True):
        with pytest.raises(LiquidControlError, match="n_targets"):
            DroneEnv(n_targets=bad)
