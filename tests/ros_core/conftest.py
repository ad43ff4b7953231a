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


DRONE_BUNDLE = ROOT / "policies" / "pretrained" / "drone_cfc_ncp30_rates"
DRONE_ACTIONS = ("collective_thrust", "roll_rate", "pitch_rate", "yaw_rate")


def drone_params(**overrides: Any) -> dict[str, Any]:
    """The quadrotor's parameters as config/drone_rates.yaml gives them, flat."""
    flat: dict[str, Any] = {"bundle": str(DRONE_BUNDLE), "timeout": 0.1, "max_dt": 0.1, "future_tolerance": 0.02}
    axes = "xyz"
    for a in axes:
        for b in axes:
            flat.update({f"inputs.R_{a}{b}.topic": "odom", f"inputs.R_{a}{b}.type": "nav_msgs/msg/Odometry",
                         f"inputs.R_{a}{b}.field": "pose.pose.orientation", f"inputs.R_{a}{b}.transform": f"rot_{a}{b}",
                         f"inputs.R_{a}{b}.unit": "1"})
    for n, a in zip("pqr", axes):
        flat.update({f"inputs.rate_{n}.topic": "imu", f"inputs.rate_{n}.type": "sensor_msgs/msg/Imu",
                     f"inputs.rate_{n}.field": f"angular_velocity.{a}", f"inputs.rate_{n}.unit": "rad/s"})
    for stem, topic, unit in (("velocity", "velocity", "m/s"), ("target_error", "target_error", "m")):
        for a in axes:
            flat.update({f"inputs.{stem}_{a}.topic": topic, f"inputs.{stem}_{a}.type": "geometry_msgs/msg/Vector3Stamped",
                         f"inputs.{stem}_{a}.field": f"vector.{a}", f"inputs.{stem}_{a}.unit": unit})
    for name in DRONE_ACTIONS:
        flat.update({f"inputs.previous_{name}.source": "previous_action", f"inputs.previous_{name}.field": name,
                     f"inputs.previous_{name}.initial": 0.0})
    flat.update({"command.type": "twist_stamped", "command.topic": "cmd_rates",
                 "command.fields.collective_thrust": "linear.z", "command.fields.roll_rate": "angular.x",
                 "command.fields.pitch_rate": "angular.y", "command.fields.yaw_rate": "angular.z",
                 "command.stop": [0.300186, 0.0, 0.0, 0.0]})
    flat.update(overrides)
    return {k: v for k, v in flat.items() if v is not None}


DRIVING_BUNDLE = ROOT / "policies" / "pretrained" / "driving_cfc_ncp19"


def driving_params(**overrides: Any) -> dict[str, Any]:
    """The camera car's parameters as config/driving_camera.yaml gives them, flat."""
    flat: dict[str, Any] = {
        "bundle": str(DRIVING_BUNDLE), "timeout": 0.5,
        "inputs.image.topic": "camera/image_raw", "inputs.image.type": "sensor_msgs/msg/Image",
        "inputs.image.height": 64, "inputs.image.width": 128,
        "inputs.speed.speed.topic": "odom", "inputs.speed.speed.type": "nav_msgs/msg/Odometry",
        "inputs.speed.speed.field": "twist.twist.linear.x", "inputs.speed.speed.unit": "m/s",
        "command.type": "twist_stamped", "command.topic": "cmd_vel", "command.fields.steering": "angular.z",
        "command.constant.linear.x": 1.2, "command.stop": [0.0],
    }
    flat.update(overrides)
    return {k: v for k, v in flat.items() if v is not None}


def image_msg(pixels: Any, encoding: str = "rgb8", pad: int = 0) -> SimpleNamespace:
    """A stand-in sensor_msgs/Image holding ``pixels`` (uint8 [H, W, 3], RGB) in ``encoding``, each row
    padded with ``pad`` bytes (``step`` = width x bytes per pixel + pad)."""
    import numpy as np

    rgb = np.asarray(pixels, dtype=np.uint8)
    h, w, _ = rgb.shape
    body = {"rgb8": rgb, "bgr8": rgb[..., ::-1],
            "rgba8": np.concatenate([rgb, np.full((h, w, 1), 255, np.uint8)], axis=2),
            "bgra8": np.concatenate([rgb[..., ::-1], np.full((h, w, 1), 7, np.uint8)], axis=2)}[encoding]
    rows = body.reshape(h, -1)
    step = rows.shape[1] + pad
    padded = np.full((h, step), 0xAB, np.uint8)
    padded[:, : rows.shape[1]] = rows
    return ns(header=stamp_header(0.0), height=h, width=w, encoding=encoding, is_bigendian=0, step=step,
              data=padded.tobytes())


def params_file(name: str, **overrides: Any) -> dict[str, Any]:
    """A shipped parameters file (ros_nodes/config/<name>) flattened the way rclpy hands it to the node."""
    # ruamel.yaml: what liquidcontrol.bags reads YAML with (the main venv has no PyYAML).
    from ruamel.yaml import YAML

    text = (ROOT / "ros_nodes" / "config" / name).read_text()
    tree = YAML(typ="safe").load(text)["policy_node"]["ros__parameters"]
    flat: dict[str, Any] = {}

    def walk(prefix: str, node: Any) -> None:
        for key, value in node.items():
            if isinstance(value, dict):
                walk(f"{prefix}{key}.", value)
            else:
                flat[f"{prefix}{key}"] = value

    walk("", tree)
    flat.update(overrides)
    return {k: v for k, v in flat.items() if v is not None}
