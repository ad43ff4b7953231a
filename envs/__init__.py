"""MuJoCo tasks and their scripted experts; importing registers the env ids.

Import as ``liquidcontrol.envs`` (never ``envs``); then
``gymnasium.make("liquidcontrol/Parking-v0")`` works.
"""

from __future__ import annotations

import gymnasium
from liquidcontrol.envs.parking import ParkingEnv
from liquidcontrol.envs.parking_expert import ParallelParkingExpert

PARKING_ID = "liquidcontrol/Parking-v0"

if PARKING_ID not in gymnasium.registry:
    # No max_episode_steps: the env truncates itself after max_episode_seconds,
    # so direct construction and gymnasium.make behave the same.
    gymnasium.register(id=PARKING_ID, entry_point="liquidcontrol.envs.parking:ParkingEnv")

EXPERTS: dict[str, type] = {PARKING_ID: ParallelParkingExpert}


def make_expert(env_id: str) -> ParallelParkingExpert:
    """A fresh scripted expert for ``env_id`` (``reset()``, ``act(env) -> action``)."""
    from liquidcontrol.errors import LiquidControlError

    if env_id not in EXPERTS:
        raise LiquidControlError(f"no scripted expert for env id {env_id!r}; known: {', '.join(EXPERTS)}.")
    return EXPERTS[env_id]()


__all__ = ["EXPERTS", "PARKING_ID", "ParallelParkingExpert", "ParkingEnv", "make_expert"]
