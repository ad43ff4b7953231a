"""Action perturbations: imperfect actuators, late commands and a worn steering servo."""

from __future__ import annotations

from collections import deque
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.perturb.base import PerturbationWrapper, SeedLike, control_period


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
    The catalog gives the delay in seconds and converts it with the env's
    control period.
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


def action_channel(env: gym.Env, name: str) -> tuple[int, float]:
    """Index and scale (physical units per action unit) of the action channel ``name``.

    Read from the base env's ``action_layout`` (a list of {name, unit,
    scale}); a clear error names the channels when ``name`` is missing.
    """
    layout = getattr(env.unwrapped, "action_layout", None)
    names = [str(e.get("name")) for e in layout or []]
    if name not in names:
        known = ", ".join(names) if names else "none (the env has no action_layout)"
        raise LiquidControlError(
            f"{type(env.unwrapped).__name__} has no action channel named {name!r}; its action channels: {known}.")
    index = names.index(name)
    assert layout is not None
    scale = float(layout[index].get("scale", 1.0))
    if not (np.isfinite(scale) and scale > 0):
        raise LiquidControlError(f"action channel {name!r} has scale {scale!r}; expected a number > 0.")
    return index, scale


class SteeringServo(PerturbationWrapper):
    """A worn steering servo: trim offset, slow slewing and backlash on the ``"steering"`` action.

    The steering command (action units; the ``"steering"`` entry of the
    env's ``action_layout`` gives rad per unit) passes through, in order:

    1. **offset** — a trim error of ``offset_fraction`` × the steering scale
       (rad), added to the command; its sign is drawn per episode. The sum
       saturates at full lock, so full lock on one side is lost.
    2. **slew limit** — the servo moves at most ``slew_rad_s`` rad/s towards
       that target (None = no limit; the env's own servo limit, 3 rad/s for
       parking, still applies, so limits above it change nothing).
    3. **backlash** — play of ``backlash_rad`` rad (full width) in the
       linkage: the wheels follow the servo only once it has taken up the
       gap, so after a reversal the steering angle does not move until the
       servo has turned ``backlash_rad``, and a held command settles
       ``backlash_rad / 2`` short of it, on the side it came from.

    The result is clipped to [-1, 1] and sent to the env. At reset the
    servo and the wheels are straight (the env resets its own servo there).
    Other action channels pass through unchanged.
    """

    def __init__(
        self, env: gym.Env, offset_fraction: float = 0.0, slew_rad_s: float | None = None,
        backlash_rad: float = 0.0, seed: SeedLike = 0, channel: str = "steering",
    ) -> None:
        super().__init__(env, seed)
        space = _box(env)
        slew_rad_s = float("inf") if slew_rad_s is None else float(slew_rad_s)
        if not slew_rad_s > 0 or backlash_rad < 0:
            raise LiquidControlError(
                f"steering servo needs slew_rad_s > 0 and backlash_rad >= 0, got {slew_rad_s} and {backlash_rad}.")
        self.index, self.scale = action_channel(env, channel)
        self.low = float(np.asarray(space.low, dtype=np.float64).reshape(-1)[self.index])
        self.high = float(np.asarray(space.high, dtype=np.float64).reshape(-1)[self.index])
        self.offset_fraction = float(offset_fraction)
        self.slew_rad_s = float(slew_rad_s)
        self.backlash_rad = float(backlash_rad)
        self.period = control_period(env)
        self.offset_sign = 1.0
        self.servo = 0.0  # rad, servo output shaft
        self.wheels = 0.0  # rad, what the linkage passes to the wheels

    @property
    def offset_rad(self) -> float:
        """This episode's trim offset in rad (signed)."""
        return self.offset_sign * self.offset_fraction * self.scale

    def on_reset(self, obs: Any) -> Any:
        self.offset_sign = float(self.rng.choice([-1.0, 1.0]))
        self.servo = self.wheels = 0.0
        return obs

    def step(self, action: np.ndarray) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        a = np.array(action, dtype=np.float64, copy=True).reshape(-1)
        if not np.all(np.isfinite(a)):
            return self.env.step(action)  # the env reports the bad action
        lock_low, lock_high = self.low * self.scale, self.high * self.scale
        target = min(max(min(max(a[self.index], self.low), self.high) * self.scale + self.offset_rad,
                         lock_low), lock_high)
        max_move = self.slew_rad_s * self.period
        self.servo += min(max(target - self.servo, -max_move), max_move)
        half = 0.5 * self.backlash_rad
        self.wheels = min(max(self.wheels, self.servo - half), self.servo + half)
        a[self.index] = min(max(self.wheels / self.scale, self.low), self.high)
        return self.env.step(a.reshape(self.action_space.shape).astype(self.action_space.dtype))
