"""Building a policy for a task: dimensions from the env, kind from the registry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from liquidcontrol import obs as obslib
from liquidcontrol.errors import LiquidControlError
from liquidcontrol.policies.base import RecurrentPolicy
from liquidcontrol.policies.registry import is_liquid, make_policy


@dataclass(frozen=True)
class EnvProbe:
    """What a policy needs to know about an env: its observation space, action
    width and bounds, and control period (s)."""

    observation_space: gym.Space
    act_dim: int
    action_low: list[float]
    action_high: list[float]
    period: float

    @property
    def obs_spec(self) -> list[dict[str, Any]] | None:
        """Per-key input description for Dict observations (None for a flat Box)."""
        space = self.observation_space
        if not isinstance(space, gym.spaces.Dict):
            return None
        return [{"key": k, "dtype": "uint8" if obslib.is_image_space(s) else "float32", "shape": list(s.shape or ())}
                for k, s in sorted(space.spaces.items())]

    @property
    def obs_dim(self) -> int:
        """Width of a flat observation (0 for Dict observations)."""
        space = self.observation_space
        return 0 if isinstance(space, gym.spaces.Dict) else int(np.prod(space.shape or (0,)))


def probe_env(env_id: str, env_kwargs: dict[str, Any] | None = None) -> EnvProbe:
    """Spaces and control period of ``env_id`` (the project's envs are registered first)."""
    import liquidcontrol.envs  # noqa: F401 - registers the ids

    try:
        env = gym.make(env_id, **(env_kwargs or {}))
    except gym.error.Error as exc:
        raise LiquidControlError(f"unknown env id {env_id!r} ({exc}).") from None
    try:
        obslib.check_space(env.observation_space)
        act = env.action_space
        if not isinstance(act, gym.spaces.Box) or len(act.shape) != 1:
            raise LiquidControlError(f"{env_id} must have a flat Box action space, got {act}.")
        return EnvProbe(env.observation_space, int(act.shape[0]), [float(v) for v in act.low],
                        [float(v) for v in act.high], float(getattr(env.unwrapped, "control_period", 0.05)))
    finally:
        env.close()


def build_policy(kind: str, probe: EnvProbe, units: int, seed: int, param_budget: int = 0) -> RecurrentPolicy:
    """A fresh policy of ``kind`` with ``units`` neurons (liquid kinds) or hidden
    units (baselines, or ``param_budget`` trainable parameters); ``seed`` seeds
    the weights (the wiring keeps the ncps default seed 22222, recorded in the config)."""
    torch.manual_seed(seed)
    extra: dict[str, Any] = {"control_period": probe.period}
    if probe.obs_spec is not None:
        extra["obs_spec"] = probe.obs_spec
    if is_liquid(kind):
        if param_budget:
            raise LiquidControlError("--param-budget sizes baselines; size a liquid model with --units.")
        return make_policy(kind, probe.obs_dim, probe.act_dim, units=units, **extra)
    if param_budget:
        return make_policy(kind, probe.obs_dim, probe.act_dim, budget=param_budget, **extra)
    return make_policy(kind, probe.obs_dim, probe.act_dim, hidden=units, **extra)
