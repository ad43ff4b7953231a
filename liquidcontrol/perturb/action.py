"""Action perturbations: imperfect actuators and late commands."""

from __future__ import annotations

from collections import deque
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.perturb.base import PerturbationWrapper, SeedLike


def _box(env: gym.Env) -> gym.spaces.Box:
    space = env.action_space
    if not isinstance(space, gym.spaces.Box):
        raise LiquidControlError(f"action perturbations need a Box action space, got {space}.")
    return space


class ActionNoise(PerturbationWrapper):
    """Gaussian noise on each command, σ = ``sigma_fraction`` × half the action range.

    For actions in [-1, 1] the half range is 1, so σ is in action units. The
    noisy command is clipped to the action bounds, as an actuator saturates.
    """

    def __init__(self, env: gym.Env, sigma_fraction: float, seed: SeedLike = 0) -> None:
        super().__init__(env, seed)
        space = _box(env)
        self.low = np.asarray(space.low, dtype=np.float64)
        self.high = np.asarray(space.high, dtype=np.float64)
        half = (self.high - self.low) / 2.0
        self.sigma = float(sigma_fraction) * np.where(np.isfinite(half), half, 1.0)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict[str, Any]]:
        a = np.asarray(action, dtype=np.float64)
        noisy = np.clip(a + self.rng.normal(0.0, 1.0, a.shape) * self.sigma, self.low, self.high)
        return self.env.step(noisy.astype(self.action_space.dtype))


class ActionDelay(PerturbationWrapper):
    """Commands reach the actuators ``steps`` control periods late.

    Until ``steps`` commands have been issued, the actuators receive the
    neutral command (zero, clipped to the bounds: stopped, wheels straight).
    """

    def __init__(self, env: gym.Env, steps: int, seed: SeedLike = 0) -> None:
        super().__init__(env, seed)
        space = _box(env)
        self.steps = int(steps)
        self.neutral = np.clip(np.zeros(space.shape), space.low, space.high).astype(space.dtype)
        self.queue: deque[np.ndarray] = deque()

    def on_reset(self, obs: np.ndarray) -> np.ndarray:
        self.queue = deque(np.array(self.neutral, copy=True) for _ in range(self.steps))
        return obs

    def step(self, action: np.ndarray) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict[str, Any]]:
        self.queue.append(np.array(action, dtype=self.action_space.dtype, copy=True))
        return self.env.step(self.queue.popleft())
