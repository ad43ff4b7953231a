"""Observation perturbations: what imperfect sensors do to the numbers a policy sees.

All act on vector observation channels: a flat Box observation, or the
vector keys of a ``spaces.Dict`` observation (images pass through
untouched and the returned dict has the same keys and dtypes). ``groups``
restricts them to sensor groups (``"pose"``, ``"speed"``, ``"steer"``,
``"range"`` for parking) through the env's ``observation_layout``; ``keys``
restricts them to some keys of a Dict observation. Amounts are fractions of
each channel's scale (see :func:`liquidcontrol.perturb.base.channel_scales`),
so one severity table fits metres, radians and metres per second alike.

What a sensor does at a failure or at saturation comes from its layout
entry (see :mod:`liquidcontrol.perturb.base`): ``fail_value`` is what a lost
reading reports (a number, or ``"hold"``: the last delivered value repeats),
``limits`` the saturation range a reading cannot leave (a rangefinder's
maximum range = "no echo").
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.perturb.base import (
    HOLD,
    PerturbationWrapper,
    SeedLike,
    channel_parts,
    control_period,
    select_channels,
    widen_space,
)


class _ChannelWrapper(PerturbationWrapper):
    """Common set-up: the selected channels (all vector keys concatenated), their layout facts.

    Subclasses work on one float64 vector of the selected channels
    (:meth:`_gather`) and write it back (:meth:`_scatter`), so the same code
    serves a flat observation and a Dict of vectors.
    """

    def __init__(
        self, env: gym.Env, groups: Sequence[str] | None, seed: SeedLike, keys: Sequence[str] | None = None
    ) -> None:
        super().__init__(env, seed)
        self.parts = channel_parts(env, groups, keys)
        #: index array (flat observation) or {key: index array} (Dict observation)
        self.channels = select_channels(env, groups, keys)
        self.scales = np.concatenate([p.scales for p in self.parts])
        self.fail = np.concatenate([p.fail for p in self.parts])
        self.limit_low = np.concatenate([p.limit_low for p in self.parts])
        self.limit_high = np.concatenate([p.limit_high for p in self.parts])
        self.size = int(self.scales.size)

    def _gather(self, obs: Any) -> np.ndarray:
        if self.parts[0].key is None:
            return np.asarray(obs, dtype=np.float64)[self.parts[0].index]
        return np.concatenate([np.asarray(obs[p.key], dtype=np.float64)[p.index] for p in self.parts])

    def _scatter(self, obs: Any, values: np.ndarray) -> Any:
        if self.parts[0].key is None:
            out = np.array(obs, copy=True)
            out[self.parts[0].index] = values.astype(out.dtype)
            return out
        result = dict(obs)  # same keys, same order; images are passed through as they are
        start = 0
        for p in self.parts:
            arr = np.array(obs[p.key], copy=True)
            arr[p.index] = values[start:start + p.index.size].astype(arr.dtype)
            result[p.key] = arr
            start += p.index.size
        return result

    def _saturated(self, values: np.ndarray) -> np.ndarray:
        """Readings exactly at a layout limit (NaN limits never match)."""
        return (values == self.limit_low) | (values == self.limit_high)


class ObservationNoise(_ChannelWrapper):
    """Zero-mean Gaussian noise, σ = ``sigma_fraction`` × channel scale, fresh every step.

    The noise is not clipped: clipping at a bound would bias every reading
    near it (a range reading just under the 2 m maximum could only move
    down). A reading exactly at a saturation limit of its layout entry
    (``limits``, e.g. a rangefinder at its maximum range: no echo) is left
    unchanged, as a sensor that saw no echo reports no echo whatever its
    noise. The wrapper's observation space is unbounded on the noisy
    channels, since Gaussian noise is.
    """

    def __init__(
        self, env: gym.Env, sigma_fraction: float, groups: Sequence[str] | None = None, seed: SeedLike = 0,
        keys: Sequence[str] | None = None,
    ) -> None:
        super().__init__(env, groups, seed, keys)
        self.sigma = float(sigma_fraction) * self.scales
        self.observation_space = widen_space(env.observation_space, self.parts)

    def _noisy(self, obs: Any) -> Any:
        values = self._gather(obs)
        noisy = values + self.rng.normal(0.0, 1.0, self.size) * self.sigma
        return self._scatter(obs, np.where(self._saturated(values), values, noisy))

    def on_reset(self, obs: Any) -> Any:
        return self._noisy(obs)

    def on_step(self, obs: Any) -> Any:
        return self._noisy(obs)


class ObservationBiasDrift(_ChannelWrapper):
    """A bias that grows linearly from zero at reset: a slowly decalibrating sensor.

    Each channel drifts up or down (sign drawn per episode) at
    ``rate_fraction`` × channel scale per second, so after ``k`` steps of
    period ``dt`` the bias is ``±rate_fraction × scale × k × dt``. As for
    noise, a reading at a saturation limit (no echo) stays unchanged and
    nothing is clipped.
    """

    def __init__(
        self, env: gym.Env, rate_fraction: float, groups: Sequence[str] | None = None, seed: SeedLike = 0,
        keys: Sequence[str] | None = None,
    ) -> None:
        super().__init__(env, groups, seed, keys)
        self.rate = float(rate_fraction) * self.scales
        self.period = control_period(env)
        self.direction = np.ones(self.size)
        self.elapsed = 0.0
        self.observation_space = widen_space(env.observation_space, self.parts)

    def on_reset(self, obs: Any) -> Any:
        self.direction = self.rng.choice([-1.0, 1.0], size=self.size)
        self.elapsed = 0.0
        return obs

    def on_step(self, obs: Any) -> Any:
        self.elapsed += self.period
        values = self._gather(obs)
        drifted = values + self.direction * self.rate * self.elapsed
        return self._scatter(obs, np.where(self._saturated(values), values, drifted))


class SensorDropout(_ChannelWrapper):
    """Each selected reading is lost with probability ``p`` per step.

    A lost reading reports what that sensor reports when it has no reading:
    by default the ``fail_value`` of its layout entry, e.g. the maximum
    range for a rangefinder (no echo) or ``"hold"`` (the last value this
    wrapper delivered for that channel repeats: pose, odometry, encoders).
    Channels without a ``fail_value`` hold: zero is a real reading for most sensors
    (0 m = an obstacle touching, 0 m/s = stopped), so writing it would test a
    false reading, not a lost one. ``value`` overrides the layout for every
    selected channel: a number (e.g. ``0.0``, the Real-World RL suite's
    convention) or ``"hold"``.

    At reset a held channel has no earlier value to repeat, so it delivers
    its reading; channels with a numeric fail value can be lost from the
    first reading on.
    """

    def __init__(
        self, env: gym.Env, p: float, groups: Sequence[str] | None = None, seed: SeedLike = 0,
        value: float | str | None = None, keys: Sequence[str] | None = None,
    ) -> None:
        super().__init__(env, groups, seed, keys)
        self.p = float(p)
        if value is None:
            pass  # the layout's fail values
        elif isinstance(value, str):
            if value != HOLD:
                raise LiquidControlError(f"dropout value must be a number or 'hold', got {value!r}.")
            self.fail = np.full(self.size, np.nan)
        else:
            self.fail = np.full(self.size, float(value))
        self.hold = np.isnan(self.fail)
        self.last = np.zeros(self.size)

    def on_reset(self, obs: Any) -> Any:
        values = self._gather(obs)
        lost = (self.rng.random(self.size) < self.p) & ~self.hold
        out = np.where(lost, self.fail, values)
        self.last = out
        return self._scatter(obs, out)

    def on_step(self, obs: Any) -> Any:
        values = self._gather(obs)
        lost = self.rng.random(self.size) < self.p
        out = np.where(lost, np.where(self.hold, self.last, self.fail), values)
        self.last = out
        return self._scatter(obs, out)


class FrozenSensor(_ChannelWrapper):
    """Stuck sensors: a reading freezes at its last value for ``hold_steps`` steps.

    Each step, every selected channel that is not already frozen sticks with
    probability ``p_start``; it then repeats the value it read for
    ``hold_steps`` steps before recovering. In the long run a channel is
    frozen for about ``p·h / (1 + p·h)`` of the steps (``h = hold_steps``).
    The catalog gives the hold in seconds and converts it with the env's
    control period.
    """

    def __init__(
        self, env: gym.Env, p_start: float, hold_steps: int, groups: Sequence[str] | None = None,
        seed: SeedLike = 0, keys: Sequence[str] | None = None,
    ) -> None:
        super().__init__(env, groups, seed, keys)
        self.p_start = float(p_start)
        self.hold_steps = int(hold_steps)
        self.remaining = np.zeros(self.size, dtype=int)
        self.held = np.zeros(self.size)

    def on_reset(self, obs: Any) -> Any:
        self.remaining[:] = 0
        self.held = self._gather(obs)
        return obs

    def on_step(self, obs: Any) -> Any:
        frozen = self.remaining > 0
        self.remaining[frozen] -= 1
        # A channel that sticks now repeats the previous reading it reported.
        start = ~frozen & (self.rng.random(self.size) < self.p_start)
        self.remaining[start] = self.hold_steps - 1
        hold = frozen | start
        values = np.where(hold, self.held, self._gather(obs))
        self.held = values
        return self._scatter(obs, values)


class ObservationDelay(_ChannelWrapper):
    """Selected channels arrive ``steps`` control periods late (sensor or bus latency).

    Before ``steps`` readings exist, the reset reading is repeated, as a
    sensor pipeline that has not delivered a new sample would do. The
    catalog gives the delay in seconds and converts it with the env's
    control period.
    """

    def __init__(
        self, env: gym.Env, steps: int, groups: Sequence[str] | None = None, seed: SeedLike = 0,
        keys: Sequence[str] | None = None,
    ) -> None:
        super().__init__(env, groups, seed, keys)
        self.steps = int(steps)
        self.buffer: deque[np.ndarray] = deque(maxlen=self.steps + 1)

    def on_reset(self, obs: Any) -> Any:
        self.buffer.clear()
        first = self._gather(obs)
        for _ in range(self.steps + 1):
            self.buffer.append(first.copy())
        return obs

    def on_step(self, obs: Any) -> Any:
        self.buffer.append(self._gather(obs))
        return self._scatter(obs, self.buffer[0])
