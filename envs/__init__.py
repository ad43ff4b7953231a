"""MuJoCo tasks and their scripted experts; importing registers the env ids and tasks.

Import as ``liquidcontrol.envs`` (never ``envs``); then
``gymnasium.make("liquidcontrol/Parking-v0")`` works and
``liquidcontrol.tasks.get_task("parking")`` describes the task.
"""

from __future__ import annotations

import gymnasium
from liquidcontrol.envs.driving_task import DRIVING, DRIVING_ID
from liquidcontrol.envs.drone_task import DRONE, DRONE_ID
from liquidcontrol.envs.parking import ParkingEnv
from liquidcontrol.envs.parking_expert import ParallelParkingExpert
from liquidcontrol.envs.parking_task import PARKING, PARKING_ID

from liquidcontrol.errors import LiquidControlError

if PARKING_ID not in gymnasium.registry:
    # No max_episode_steps: the env truncates itself after max_episode_seconds,
    # so direct construction and gymnasium.make behave the same.
    gymnasium.register(id=PARKING_ID, entry_point="liquidcontrol.envs.parking:ParkingEnv")
if DRONE_ID not in gymnasium.registry:
    gymnasium.register(id=DRONE_ID, entry_point="liquidcontrol.envs.drone:DroneEnv")
if DRIVING_ID not in gymnasium.registry:
    gymnasium.register(id=DRIVING_ID, entry_point="liquidcontrol.envs.driving:DrivingEnv")


def make_expert(env_id: str):  # noqa: ANN201 - returns the task's expert type
    """A fresh scripted expert for ``env_id`` (``reset()``, ``act(env) -> action``)."""
    from liquidcontrol.tasks import task_for_env

    task = task_for_env(env_id)
    if task is None:
        raise LiquidControlError(f"no task (and so no scripted expert) uses env id {env_id!r}.")
    return task.make_expert()


__all__ = ["DRIVING", "DRIVING_ID", "DRONE", "DRONE_ID", "PARKING", "PARKING_ID", "ParallelParkingExpert", "ParkingEnv", "make_expert"]
