"""liquidcontrol/Driving-v0: roads from the seed, the camera, the lane bookkeeping, the expert."""

from __future__ import annotations

import math

import gymnasium as gym
import mujoco
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from liquidcontrol.envs.driving import DrivingEnv
from liquidcontrol.envs.driving_expert import PurePursuitExpert
from liquidcontrol.envs.driving_track import GROUND_EXTENT, MIN_RADIUS, generate_track, paint_ground

from liquidcontrol.errors import LiquidControlError


def _drive(env, agent, seed, on_step=None):
    env.reset(seed=seed)
    agent.reset()
    done, info, k, worst = False, {}, 0, 0.0
    while not done:
        _, _, terminated, truncated, info = env.step(agent.act(env))
        done = terminated or truncated
        worst = max(worst, info["lateral_deviation_m"])
        k += 1
        if on_step is not None:
            on_step(env, k)
    return info, worst


@pytest.fixture(scope="module")
def state_env():
    return DrivingEnv(observation="state")


@pytest.fixture(scope="module")
def image_env():
    env = DrivingEnv()
    yield env
    env.close()


def test_gymnasium_make_and_check_env():
    for kwargs in ({}, {"observation": "state"}):
        env = gym.make("liquidcontrol/Driving-v0", **kwargs)
        check_env(env.unwrapped, skip_render_check=True)
        env.close()


def test_tracks_are_smooth_closed_and_seeded():
    lengths, directions = [], set()
    for seed in range(30):
        t = generate_track(np.random.default_rng(seed))
        assert np.min(1.0 / np.abs(t.curvature)) >= MIN_RADIUS
        assert 15.0 < t.length < 32.0
        assert np.abs(t.xy).max() + 2 * t.lane_width < GROUND_EXTENT  # the road stays on the ground plane
        # Points project onto themselves with zero offset; the left normal is left of the tangent.
        i, lateral, _ = t.project(*t.xy[100])
        assert i == 100 and abs(lateral) < 1e-9
        assert np.allclose(np.cross(t.tangent, t.normal), 1.0)
        lengths.append(t.length)
        directions.add(t.clockwise)
    assert directions == {True, False} and len(set(np.round(lengths, 6))) == 30
    a, b = generate_track(np.random.default_rng(7)), generate_track(np.random.default_rng(7))
    np.testing.assert_array_equal(a.xy, b.xy)


def test_ground_texture_has_the_road_where_the_track_is():
    rng = np.random.default_rng(3)
    t = generate_track(rng)
    img = paint_ground(t, rng, 1024).astype(int)

    def pixel(xy):
        scale = 1024 / (2 * GROUND_EXTENT)
        return img[int((GROUND_EXTENT - xy[1]) * scale), int((xy[0] + GROUND_EXTENT) * scale)]

    for i in range(0, 1024, 64):
        lane = pixel(t.xy[i])  # asphalt: grey
        assert np.ptp(lane) < 25, lane
        grass = pixel(t.xy[i] - 1.2 * t.normal[i])  # 1.2 m right of the lane centre, past the shoulder
        assert grass[1] > grass[0] + 20 and grass[1] > grass[2] + 20, grass


def test_front_camera_sees_the_road_ahead(image_env):
    obs, _ = image_env.reset(seed=5)
    img = obs["image"]
    assert img.shape == (64, 128, 3) and img.dtype == np.uint8
    bottom = img[-8:, 48:80].reshape(-1, 3).astype(int).mean(0)
    assert np.ptp(bottom) < 20, bottom  # grey asphalt right in front of the car
    # A different track looks different; the same seed looks the same.
    other, _ = image_env.reset(seed=6)
    again, _ = image_env.reset(seed=5)
    assert np.abs(other["image"].astype(int) - img).mean() > 5
    np.testing.assert_array_equal(again["image"], img)


def test_determinism_per_seed_in_both_modes(image_env, state_env):
    for env in (image_env, state_env):
        runs = []
        for _ in range(2):
            obs, _ = env.reset(seed=11)
            seq = [obs]
            for k in range(15):
                obs, *_ = env.step(np.array([0.3 * math.sin(k / 3)], np.float32))
                seq.append(obs)
            runs.append(seq)
        for a, b in zip(*runs):
            if isinstance(a, dict):
                for key in a:
                    np.testing.assert_array_equal(a[key], b[key])
            else:
                np.testing.assert_array_equal(a, b)


def test_state_observation_matches_true_state(state_env):
    obs, _ = state_env.reset(seed=2)
    for _ in range(10):
        obs, *_ = state_env.step(np.array([0.1], np.float32))
    s = state_env.true_state()
    assert obs[0] == pytest.approx(s.lateral, abs=1e-6) and obs[1] == pytest.approx(s.heading_error, abs=1e-6)
    assert obs[5] == pytest.approx(s.speed, abs=1e-6) and 0.3 < s.speed < 1.3


def test_speed_loop_holds_the_target_speed(state_env):
    state_env.reset(seed=1)
    expert = PurePursuitExpert()
    for _ in range(30):
        state_env.step(expert.act(state_env))
    assert state_env.true_state().speed == pytest.approx(1.2, abs=0.05)


def test_leaving_the_road_ends_the_episode(state_env):
    state_env.reset(seed=4)
    steps, terminated, truncated = 0, False, False
    while not (terminated or truncated) and steps < 300:
        _, _, terminated, truncated, info = state_env.step(np.array([1.0], np.float32))
        steps += 1
    assert terminated and info["off_road"] and not info["is_success"] and info["reward_crash"] == -10.0
    assert steps < 100


def test_driving_in_the_other_lane_is_no_success(state_env):
    info, worst = _drive(state_env, PurePursuitExpert(offset=0.65), 8)
    assert info["left_lane"] and not info["off_road"] and not info["is_success"]
    assert info["lap_fraction"] >= 1.0 and worst > 0.5 * state_env.track.lane_width


def test_expert_completes_laps_quick(state_env):
    results = [_drive(state_env, PurePursuitExpert(), s) for s in range(20)]
    assert sum(bool(i["is_success"]) for i, _ in results) >= 20
    assert max(w for _, w in results) < 0.15  # m, against half a lane of 0.275-0.35 m


def test_expert_recovers_from_offsets_it_never_causes(state_env):
    """Mid-lap the car is moved 0.2 m sideways and turned 0.25 rad away from the lane (each sign in turn);
    the expert must bring it back within 3 s and finish the lap on the road."""
    for seed, sign in ((0, 1.0), (1, -1.0), (2, 1.0), (3, -1.0)):
        after = []

        def kick(env, k, sign=sign, after=after):
            u = env.unwrapped
            if k == 40:
                x, y, yaw = u._pose
                i = u._index
                nx, ny = u.track.normal[i]
                u.car.place(u.data, x + sign * 0.2 * nx, y + sign * 0.2 * ny, yaw + sign * 0.25)
                mujoco.mj_forward(u.model, u.data)
            if k == 70:
                after.append(abs(u.true_state().lateral))

        info, _ = _drive(state_env, PurePursuitExpert(), seed, kick)
        assert not info["off_road"] and info["lap_fraction"] >= 1.0
        assert after and after[0] < 0.05, (seed, after)


@pytest.mark.slow
def test_expert_200_tracks():
    env = DrivingEnv(observation="state")
    assert sum(bool(_drive(env, PurePursuitExpert(), s)[0]["is_success"]) for s in range(200)) >= 198  # >= 99 %


def test_bad_input_is_one_sentence(state_env):
    state_env.reset(seed=0)
    with pytest.raises(LiquidControlError, match="NaN"):
        state_env.step(np.array([np.nan], np.float32))
    with pytest.raises(LiquidControlError, match="shape"):
        state_env.step(np.zeros(2, np.float32))
    with pytest.raises(LiquidControlError, match="observation 'lidar' is unknown"):
        DrivingEnv(observation="lidar")
    with pytest.raises(LiquidControlError, match="camera"):
        DrivingEnv(camera="side")
    with pytest.raises(LiquidControlError, match="target_speed"):
        DrivingEnv(target_speed=9.0)


def test_no_offscreen_rendering_is_one_sentence_naming_egl(monkeypatch):
    from liquidcontrol.envs import rendering

    def broken(*args, **kwargs):
        raise mujoco.FatalError("gladLoadGL error")

    monkeypatch.setattr(rendering.mujoco, "Renderer", broken)
    env = DrivingEnv()
    with pytest.raises(LiquidControlError, match=r"MUJOCO_GL=egl.*libegl-mesa0"):
        env.reset(seed=0)
