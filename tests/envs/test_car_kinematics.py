"""The MuJoCo car drives like a car: bicycle-model turning radius, no side slip, slew limits."""

from __future__ import annotations

import math

import mujoco
import numpy as np
import pytest
from liquidcontrol.envs import ParkingEnv
from liquidcontrol.envs import parking_constants as pc


@pytest.fixture()
def open_road() -> ParkingEnv:
    """An env with the parked cars and the curb moved far away, car at rest at the origin."""
    env = ParkingEnv()
    env.reset(seed=0)
    for name in (pc.REAR_CAR_GEOM, pc.FRONT_CAR_GEOM, pc.CURB_GEOM):
        env.model.geom_pos[mujoco.mj_name2id(env.model, mujoco.mjtObj.mjOBJ_GEOM, name), 1] = -50
    mujoco.mj_resetData(env.model, env.data)
    env.data.qpos[env._qpos0 + 2] = pc.AXLE_HEIGHT
    mujoco.mj_forward(env.model, env.data)
    return env


def _drive(env: ParkingEnv, steer: float, speed: float, steps: int) -> np.ndarray:
    """Run the actuation layer and physics directly (no arena limits); returns centre positions."""
    path = []
    for _ in range(steps):
        env._actuate(steer, speed)
        mujoco.mj_step(env.model, env.data, nstep=env.frame_skip)
        env._observe()
        path.append(env.car_pose)
    return np.array(path)


def _circle_radius(points: np.ndarray) -> float:
    a = np.c_[2 * points, np.ones(len(points))]
    cx, cy, c = np.linalg.lstsq(a, (points ** 2).sum(axis=1), rcond=None)[0]
    return math.sqrt(c + cx ** 2 + cy ** 2)


@pytest.mark.parametrize("steer, speed", [(pc.MAX_STEER, 0.3), (-pc.MAX_STEER, 0.3),
                                          (pc.MAX_STEER, -0.3), (0.2, 0.5)])
def test_turning_radius_matches_bicycle_model(open_road, steer, speed):
    path = _drive(open_road, steer, speed, 200)[60:, :2]  # after the steering and speed settle
    rear_axle_radius = pc.WHEELBASE / math.tan(abs(steer))
    centre_radius = math.hypot(rear_axle_radius, 0.5 * pc.WHEELBASE)
    assert _circle_radius(path) == pytest.approx(centre_radius, rel=0.03)


def test_no_side_slip_at_the_rear_axle(open_road):
    _drive(open_road, pc.MAX_STEER, 0.4, 80)
    d, i = open_road.data, open_road._qvel0
    x, y, theta = open_road.car_pose
    heading, normal = np.array([math.cos(theta), math.sin(theta)]), np.array([-math.sin(theta), math.cos(theta)])
    omega = d.qvel[i + 5]  # yaw rate (the body frame z is vertical on flat ground)
    rear = d.qvel[i:i + 2] - omega * 0.5 * pc.WHEELBASE * normal  # v_centre + omega x r
    assert abs(rear @ heading) == pytest.approx(0.4, rel=0.05)
    assert abs(rear @ normal) < 0.01


def test_straight_line_and_ride_height(open_road):
    path = _drive(open_road, 0.0, 0.5, 100)
    assert abs(path[-1, 2]) < 0.01 and abs(path[-1, 1]) < 0.01  # no drift
    assert path[-1, 0] == pytest.approx(0.5 * 5.0, rel=0.05)  # 5 s at 0.5 m/s, minus the ramp
    assert abs(open_road.data.qpos[open_road._qpos0 + 2] - pc.AXLE_HEIGHT) < 0.005


def test_steering_and_speed_are_slew_limited(open_road):
    open_road._actuate(pc.MAX_STEER, pc.MAX_SPEED)
    assert open_road._steer_target == pytest.approx(pc.STEER_RATE * open_road.control_period)
    assert open_road._speed_target == pytest.approx(pc.MAX_ACCEL * open_road.control_period)


def test_constants_match_the_model():
    env = ParkingEnv()
    m = env.model

    def body_pos(name: str) -> np.ndarray:
        return m.body_pos[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, name)]

    front, rear = body_pos("steer_front_left"), body_pos("wheel_rear_left")
    assert front[0] - rear[0] == pytest.approx(pc.WHEELBASE)
    assert 2 * front[1] == pytest.approx(pc.TRACK)
    chassis = m.geom_size[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, pc.CHASSIS_GEOM)]
    assert 2 * chassis[0] == pytest.approx(pc.CAR_LENGTH) and 2 * chassis[1] == pytest.approx(pc.CAR_WIDTH)
    wheel = m.geom_size[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, pc.WHEEL_GEOMS[0])]
    assert wheel[0] == pytest.approx(pc.WHEEL_RADIUS)
    curb = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, pc.CURB_GEOM)
    assert m.geom_pos[curb, 1] + m.geom_size[curb, 1] == pytest.approx(pc.CURB_Y)
    assert 3.0 <= m.body_subtreemass[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, pc.CAR_BODY)] <= 4.0
