"""Building a policy for a task: dimensions from the env, kind from the registry."""

from __future__ import annotations

import gymnasium as gym
import torch

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.policies.base import RecurrentPolicy
from liquidcontrol.policies.registry import make_policy


def probe_env(env_id: str) -> tuple[int, int, float]:
    """Observation width, action width and control period (s) of ``env_id``."""
    import liquidcontrol.envs  # noqa: F401 - registers the ids

    try:
        env = gym.make(env_id)
    except gym.error.Error as exc:
        raise LiquidControlError(f"unknown env id {env_id!r} ({exc}).") from None
    try:
        obs_shape, act_shape = env.observation_space.shape, env.action_space.shape
        if not obs_shape or not act_shape:
            raise LiquidControlError(f"{env_id} must have vector observation and action spaces.")
        obs_dim, act_dim = int(obs_shape[0]), int(act_shape[0])
        period = float(getattr(env.unwrapped, "control_period", 0.05))
    finally:
        env.close()
    return obs_dim, act_dim, period


LIQUID_KINDS = ("cfc-ncp", "cfc", "ltc-ncp", "ltc")


def build_policy(kind: str, obs_dim: int, act_dim: int, units: int, period: float, seed: int) -> RecurrentPolicy:
    """A fresh policy of ``kind`` with ``units`` neurons (liquid kinds) or
    hidden units (baselines); ``seed`` seeds the weight initialisation (the
    wiring keeps the ncps default seed 22222, recorded in the config)."""
    torch.manual_seed(seed)
    if kind in LIQUID_KINDS:
        return make_policy(kind, obs_dim, act_dim, units=units, control_period=period)
    return make_policy(kind, obs_dim, act_dim, hidden=units, control_period=period)
