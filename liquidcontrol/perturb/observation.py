"""Observation perturbations: what imperfect sensors do to the numbers a policy sees.

All act on a flat Box observation and can be restricted to observation groups
(``"pose"``, ``"speed"``, ``"steer"``, ``"range"`` for parking) through the
env's ``observation_layout``. Amounts are fractions of each channel's scale
(see :func:`liquidcontrol.perturb.base.channel_scales`), so one severity
table fits metres, radians and metres per second alike.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import gymnasium as gym
import numpy as np

from liquidcontrol.perturb.base import (
    PerturbationWrapper,
    SeedLike,
    channel_scales,
    clip_to_space,
    control_period,
    select_channels,
)


class _ChannelWrapper(PerturbationWrapper):
    """Common set-up: the selected channel indices, their scales, dtype handling."""

    def __init__(self, env: gym.Env, groups: Sequence[str] | None, seed: SeedLike) -> None:
        super().__init__(env, seed)
        self.channels = select_channels(env, groups)
        self.scales = channel_scales(env)[self.channels]

    def _replace(self, obs: np.ndarray, values: np.ndarray) -> np.ndarray:
        out = np.array(obs, copy=True)
        out[self.channels] = values.astype(out.dtype)
        return out


class ObservationNoise(_ChannelWrapper):
    """Zero-mean Gaussian noise, σ = ``sigma_fraction`` × channel scale, fresh every step.

    Readings are clipped to the channel's finite bounds (a range sensor never
    reads below zero).
    """

    def __init__(self, env: gym.Env, sigma_fraction: float, groups: Sequence[str] | None = None, seed: SeedLike = 0) -> None:
        super().__init__(env, groups, seed)
        self.sigma = float(sigma_fraction) * self.scales

    def _noisy(self, obs: np.ndarray) -> np.ndarray:
        values = obs[self.channels] + self.rng.normal(0.0, 1.0, self.channels.size) * self.sigma
        space = self.observation_space
        assert isinstance(space, gym.spaces.Box)  # checked by select_channels
        return self._replace(obs, clip_to_space(values, space, self.channels))

    def on_reset(self, obs: np.ndarray) -> np.ndarray:
        return self._noisy(obs)

    def on_step(self, obs: np.ndarray) -> np.ndarray:
        return self._noisy(obs)


class ObservationBiasDrift(_ChannelWrapper):
    """A bias that grows linearly from zero at reset: a slowly decalibrating sensor.

    Each channel drifts up or down (sign drawn per episode) at
    ``rate_fraction`` × channel scale per second, so after ``k`` steps of
    period ``dt`` the bias is ``±rate_fraction × scale × k × dt``.
    """

    def __init__(self, env: gym.Env, rate_fraction: float, groups: Sequence[str] | None = None, seed: SeedLike = 0) -> None:
        super().__init__(env, groups, seed)
        self.rate = float(rate_fraction) * self.scales
        self.period = control_period(env)
        self.direction = np.ones(self.channels.size)
        self.elapsed = 0.0

    def on_reset(self, obs: np.ndarray) -> np.ndarray:
        self.direction = self.rng.choice([-1.0, 1.0], size=self.channels.size)
        self.elapsed = 0.0
        return obs

    def on_step(self, obs: np.ndarray) -> np.ndarray:
        self.elapsed += self.period
        bias = self.direction * self.rate * self.elapsed
        return self._replace(obs, obs[self.channels] + bias)


class SensorDropout(_ChannelWrapper):
    """Each selected reading is lost with probability ``p`` per step and reads ``value``.

    Like the Real-World RL suite's dropped sensors, a lost reading is zero by
    default; for a range sensor that is a false "obstacle right here" echo,
    which is what a water drop on an ultrasonic or ToF sensor produces.
    """

    def __init__(
        self, env: gym.Env, p: float, groups: Sequence[str] | None = None, seed: SeedLike = 0, value: float = 0.0
    ) -> None:
        super().__init__(env, groups, seed)
        self.p = float(p)
        self.value = float(value)

    def _drop(self, obs: np.ndarray) -> np.ndarray:
        lost = self.rng.random(self.channels.size) < self.p
        return self._replace(obs, np.where(lost, self.value, obs[self.channels]))

    def on_reset(self, obs: np.ndarray) -> np.ndarray:
        return self._drop(obs)

    def on_step(self, obs: np.ndarray) -> np.ndarray:
        return self._drop(obs)


class FrozenSensor(_ChannelWrapper):
    """Stuck sensors: a reading freezes at its last value for ``hold_steps`` steps.

    Each step, every selected channel that is not already frozen sticks with
    probability ``p_start``; it then repeats the value it read for
    ``hold_steps`` steps before recovering. In the long run a channel is
    frozen for about ``p·h / (1 + p·h)`` of the steps (``h = hold_steps``).
    """

    def __init__(
        self, env: gym.Env, p_start: float, hold_steps: int, groups: Sequence[str] | None = None, seed: SeedLike = 0
    ) -> None:
        super().__init__(env, groups, seed)
        self.p_start = float(p_start)
        self.hold_steps = int(hold_steps)
        self.remaining = np.zeros(self.channels.size, dtype=int)
        self.held = np.zeros(self.channels.size)

    def on_reset(self, obs: np.ndarray) -> np.ndarray:
        self.remaining[:] = 0
        self.held = np.asarray(obs[self.channels], dtype=np.float64).copy()
        return obs

    def on_step(self, obs: np.ndarray) -> np.ndarray:
        frozen = self.remaining > 0
        self.remaining[frozen] -= 1
        # A channel that sticks now repeats the previous reading it reported.
        start = ~frozen & (self.rng.random(self.channels.size) < self.p_start)
        self.remaining[start] = self.hold_steps - 1
        hold = frozen | start
        values = np.where(hold, self.held, obs[self.channels])
        self.held = values.astype(np.float64)
        return self._replace(obs, values)


class ObservationDelay(_ChannelWrapper):
    """Selected channels arrive ``steps`` control periods late (sensor or bus latency).

    Before ``steps`` readings exist, the reset reading is repeated, as a
    sensor pipeline that has not delivered a new sample would do.
    """

    def __init__(self, env: gym.Env, steps: int, groups: Sequence[str] | None = None, seed: SeedLike = 0) -> None:
        super().__init__(env, groups, seed)
        self.steps = int(steps)
        self.buffer: deque[np.ndarray] = deque(maxlen=self.steps + 1)

    def on_reset(self, obs: np.ndarray) -> np.ndarray:
        self.buffer.clear()
        for _ in range(self.steps + 1):
            self.buffer.append(np.array(obs[self.channels], copy=True))
        return obs

    def on_step(self, obs: np.ndarray) -> np.ndarray:
        self.buffer.append(np.array(obs[self.channels], copy=True))
        return self._replace(obs, self.buffer[0])
