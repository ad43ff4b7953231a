"""Plain-Python tests of the ROS 2 node logic (ros_nodes/liquidcontrol_ros without rclpy)."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "ros_nodes"))

PARKING_BUNDLE = ROOT / "policies" / "pretrained" / "parking_cfc_ncp12"
RANGES = ("front", "front_left", "left", "rear_left", "rear", "rear_right", "right", "front_right")


def parking_params(**overrides: Any) -> dict[str, Any]:
    """The parking car's parameters (as config/parking_car.yaml gives them), flat as rclpy hands them over."""
    odom = {"topic": "odom", "type": "nav_msgs/msg/Odometry"}
    inputs: dict[str, dict[str, Any]] = {
        "x": {**odom, "field": "pose.pose.position.x", "unit": "m"},
        "y": {**odom, "field": "pose.pose.position.y", "unit": "m"},
        "cos_heading": {**odom, "field": "pose.pose.orientation", "transform": "yaw_cos"},
        "sin_heading": {**odom, "field": "pose.pose.orientation", "transform": "yaw_sin"},
        "speed": {**odom, "field": "twist.twist.linear.x", "unit": "m/s"},
        "steering": {"topic": "joint_states", "type": "sensor_msgs/msg/JointState", "field": "position[0]",
                     "unit": "rad"},
    }
    for r in RANGES:
        inputs[f"range_{r}"] = {"topic": f"range/{r}", "type": "sensor_msgs/msg/Range", "field": "range",
                                "transform": "range", "unit": "m"}
    flat: dict[str, Any] = {"bundle": str(PARKING_BUNDLE), "backend": "onnxruntime", "timeout": 0.5}
    for name, spec in inputs.items():
        flat.update({f"inputs.{name}.{k}": v for k, v in spec.items()})
    flat.update({"command.type": "twist_stamped", "command.topic": "cmd_vel",
                 "command.fields.steering": "angular.z", "command.fields.speed": "linear.x",
                 "command.stop": [0.0, 0.0]})
    flat.update(overrides)
    return {k: v for k, v in flat.items() if v is not None}


def ns(**kw: Any) -> SimpleNamespace:
    return SimpleNamespace(**kw)


def quat(yaw: float) -> SimpleNamespace:
    import math

    return ns(x=0.0, y=0.0, z=math.sin(yaw / 2), w=math.cos(yaw / 2))


def stamp_header(t: float) -> SimpleNamespace:
    sec = int(t)
    return ns(stamp=ns(sec=sec, nanosec=int((t - sec) * 1e9)), frame_id="")


def odom(x: float = 0.4, y: float = 0.5, yaw: float = 0.0, v: float = 0.0) -> SimpleNamespace:
    """A stand-in with the attributes of nav_msgs/Odometry that the parking mapping reads."""
    return ns(pose=ns(pose=ns(position=ns(x=x, y=y, z=0.0), orientation=quat(yaw))),
              twist=ns(twist=ns(linear=ns(x=v, y=0.0, z=0.0))))


def feed_all(core: Any, now: float, stamp: float | None = None, obs: Any = None) -> None:
    """One message on every parking topic; ``obs`` is an env observation [14] to send."""
    import math

    import numpy as np

    o = np.array(obs if obs is not None else [0.4, 0.5, 1, 0, 0, 0] + [2.0] * 8, dtype=np.float64)
    yaw = math.atan2(o[3], o[2])
    core.on_message("odom", odom(o[0], o[1], yaw, o[4]), stamp, now)
    core.on_message("joint_states", ns(position=[o[5]]), stamp, now)
    for i, r in enumerate(RANGES):
        core.on_message(f"range/{r}", ns(range=float(o[6 + i])), stamp, now)


@pytest.fixture
def params() -> dict[str, Any]:
    return parking_params()
