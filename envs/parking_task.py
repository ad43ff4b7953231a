"""The parking task's entry in the task registry (see ``liquidcontrol.tasks``)."""

from __future__ import annotations

import math
from typing import Any

from liquidcontrol.envs.parking_expert import ParallelParkingExpert

from liquidcontrol.tasks import EpisodeMetric, Task, register_task

PARKING_ID = "liquidcontrol/Parking-v0"


def _pose(info: dict[str, Any]) -> tuple[float, float, float] | None:
    pose = info.get("car_pose")
    return None if pose is None else (float(pose[0]), float(pose[1]), float(pose[2]))


def _final_distance(info: dict[str, Any]) -> float | None:
    pose = _pose(info)
    return None if pose is None else math.hypot(pose[0], pose[1])


def _final_heading(info: dict[str, Any]) -> float | None:
    pose = _pose(info)
    return None if pose is None else abs(pose[2])


def _position(info: dict[str, Any]) -> tuple[float, float] | None:
    pose = _pose(info)
    return None if pose is None else (pose[0], pose[1])


def highway_parking_rate(steps: int) -> tuple[str, float | None]:
    """Steps/s of highway-env ``parking-v0`` (None if it is not installed), for ``bench env parking``."""
    import time

    import numpy as np
    try:
        import gymnasium as gym
        import highway_env  # noqa: F401  (registers parking-v0)
    except ImportError:
        return "highway-env parking-v0", None
    env = gym.make("parking-v0")
    env.reset(seed=0)
    rng = np.random.default_rng(0)

    def run(n: int) -> None:
        for _ in range(n):
            _, _, terminated, truncated, _ = env.step(rng.uniform(-1, 1, 2).astype(np.float32))
            if terminated or truncated:
                env.reset()

    run(max(steps // 10, 1))
    start = time.perf_counter()
    run(steps)
    rate = steps / (time.perf_counter() - start)
    env.close()
    return "highway-env parking-v0", rate




PARKING = register_task(Task(
    name="parking",
    env_id=PARKING_ID,
    title="Parallel parking",
    make_expert=ParallelParkingExpert,
    kind="cfc-ncp",
    units=12,
    # Smooth noise on the expert's executed steering shows recoveries; the
    # speed stays clean so the car can stop in the slot.
    recipe={"demo_noise": [0.1, 0.0]},
    sweep=("obs_noise", "sensor_dropout", "obs_delay", "action_delay", "friction", "mass", "steer_servo", "rain"),
    trainable_perturbations=("rain", "obs_noise", "action_noise"),
    seen_in_training=("action_noise",),
    metrics=(
        EpisodeMetric("final_distance_m", "m", _final_distance, "last",
                      "distance of the car centre from the slot centre at the end"),
        EpisodeMetric("final_heading_rad", "rad", _final_heading, "last",
                      "heading error against the slot at the end"),
    ),
    position=_position,
    render_camera="top",
    time_label="time to park",
    peer_benchmark=highway_parking_rate,
))
