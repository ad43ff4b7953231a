"""A recurrent actor-critic around any model kind of the registry, for :class:`~liquidcontrol.rl.ppo.LiquidPPO`.

The actor is a plain :class:`~liquidcontrol.policies.base.RecurrentPolicy`
(CfC-NCP, CfC, LTC-NCP, LTC, LSTM, GRU or MLP, exactly the module the
imitation pipeline trains and exports): its output is the mean of a
diagonal Gaussian over actions, with a learned, state-independent log std
(stable-baselines3's ``DiagGaussianDistribution``). The deterministic action
is the mean, so the exported bundle *is* the actor.

The critic is **separate by default**: its own recurrent core (a GRU of
``critic_units``, any registry kind can be chosen) reading the same
normalised observations. A partially observed task needs memory in the value
too, and a separate critic keeps the value loss from pulling the tiny liquid
actor's 12-30 neurons towards value prediction. ``critic="shared"`` instead
puts a linear value head on the actor's state (the liquid neurons), as a
shared trunk does; it steps the actor one step at a time in the update
(the state sequence is needed), so it is slower.

The flat state is ``[actor state | critic state]`` per env; the rollout
buffer stores it before each step, and the update replays fixed-length
sequences from it (:mod:`liquidcontrol.rl.buffer`).

Observation normalisation lives in the actor's ``obs_mean`` / ``obs_std``
buffers (they are exported with it): ``normalize="running"`` updates them
from every rollout (running mean and variance over all observations seen,
as ``VecNormalize`` keeps them), ``"frozen"`` keeps the statistics the actor
came with (a fine-tuned imitation bundle).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.distributions import DiagGaussianDistribution
from stable_baselines3.common.running_mean_std import RunningMeanStd
from torch import Tensor, nn

from liquidcontrol import obs as obslib
from liquidcontrol.errors import LiquidControlError
from liquidcontrol.policies.base import STD_MIN, RecurrentPolicy
from liquidcontrol.policies.registry import make_policy

CRITIC_MODES = ("separate", "shared")
NORMALIZE_MODES = ("running", "frozen")


class LiquidActorCritic(nn.Module):
    """Gaussian recurrent actor (any registry kind) and a recurrent critic; see the module docstring."""

    def __init__(self, actor: RecurrentPolicy, observation_space: gym.Space, critic: str = "separate",
                 critic_kind: str = "gru", critic_units: int = 32, log_std_init: float = -0.5,
                 normalize: str = "running", obs_std_floor: float = 0.05) -> None:
        super().__init__()
        if critic not in CRITIC_MODES:
            raise LiquidControlError(f"critic {critic!r} is unknown; choose one of {', '.join(CRITIC_MODES)}.")
        if normalize not in NORMALIZE_MODES:
            raise LiquidControlError(f"normalize {normalize!r} is unknown; choose one of {', '.join(NORMALIZE_MODES)}.")
        obslib.check_space(observation_space)
        self.actor = actor
        self.observation_space = observation_space
        self.critic_mode, self.critic_kind, self.critic_units = critic, critic_kind, int(critic_units)
        self.normalize, self.obs_std_floor = normalize, float(obs_std_floor)
        self.act_dim = actor.act_dim
        self.log_std = nn.Parameter(torch.full((actor.act_dim,), float(log_std_init)))
        self.dist = DiagGaussianDistribution(actor.act_dim)
        spec = actor.encoder.spec if actor.encoder is not None else None
        self.critic: RecurrentPolicy | None = None
        self.value_head: nn.Linear | None = None
        if critic == "separate":
            extra: dict[str, Any] = {"control_period": actor.control_period}
            if spec is not None:
                extra["obs_spec"] = [dict(s) for s in spec]
            self.critic = make_policy(critic_kind, actor.obs_dim, 1, hidden=self.critic_units, **extra)
        else:
            self.value_head = nn.Linear(actor.state_dim, 1)
        self._stats = _ObsStats(observation_space) if normalize == "running" else None
        self.sync_stats()

    optimizer: torch.optim.Optimizer

    def set_training_mode(self, mode: bool) -> None:
        """stable-baselines3's name for ``train(mode)``."""
        self.train(mode)

    # -- state ----------------------------------------------------------------
    @property
    def actor_state_dim(self) -> int:
        return int(self.actor.state_dim)

    @property
    def state_dim(self) -> int:
        return self.actor_state_dim + (int(self.critic.state_dim) if self.critic is not None else 0)

    def initial_state(self, batch: int) -> Tensor:
        return torch.zeros(batch, self.state_dim)

    # -- observation statistics ----------------------------------------------------
    def update_stats(self, obs: obslib.Batch) -> None:
        """Fold a batch of raw observations into the running statistics (``normalize="running"``)."""
        if self._stats is not None:
            self._stats.update(obs)

    def sync_stats(self) -> None:
        """Copy the running statistics into the actor's (and critic's) normalisation buffers."""
        if self._stats is not None and self._stats.count > 1:
            self.actor.set_obs_stats(self._stats.mean_std(self.obs_std_floor))
        if self.critic is not None:
            self.critic.load_state_dict(
                {**self.critic.state_dict(), **_norm_buffers(self.actor)}, strict=True)

    def stats_state(self) -> dict[str, Any] | None:
        return None if self._stats is None else self._stats.to_json()

    def load_stats_state(self, state: dict[str, Any] | None) -> None:
        """Restore the running statistics (the normalisation buffers in use come with the weights)."""
        if self._stats is not None and state is not None:
            self._stats.from_json(state)

    # -- one step (rollouts) -------------------------------------------------------
    def step(self, obs: Any, state: Tensor, dt: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Mean action [B, A], value [B] and new flat state for one step (state already reset)."""
        sa = self.actor_state_dim
        mean, actor_state = self.actor(obs, state[:, :sa], dt)
        if self.critic is not None:
            value, critic_state = self.critic(obs, state[:, sa:], dt)
            return mean, value[:, 0], torch.cat([actor_state, critic_state], dim=1)
        assert self.value_head is not None
        return mean, self.value_head(actor_state)[:, 0], actor_state

    def distribution(self, mean: Tensor) -> DiagGaussianDistribution:
        return self.dist.proba_distribution(mean, self.log_std)

    # -- whole sequences (the update) -----------------------------------------------
    def evaluate_sequences(self, obs: Any, state0: Tensor, dt: Tensor, episode_start: Tensor,
                           actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Values, log-probabilities of ``actions`` and entropies, each [B, T], replaying sequences.

        ``obs`` [B, T, ...], ``state0`` [B, state_dim] (the stored state before the first step, not
        yet reset), ``dt`` [B, T] s, ``episode_start`` [B, T] (the state is zeroed before flagged
        steps, exactly as in the rollout), ``actions`` [B, T, A] (as sampled, before clipping).
        """
        sa = self.actor_state_dim
        if self.critic is not None:
            means, _ = self.actor.forward_sequence(obs, state0[:, :sa], dt, episode_start)
            values, _ = self.critic.forward_sequence(obs, state0[:, sa:], dt, episode_start)
            values = values[..., 0]
        else:
            means, values = self._shared_sequence(obs, state0, dt, episode_start)
        batch, steps = means.shape[0], means.shape[1]
        dist = self.distribution(means.reshape(batch * steps, -1))
        log_prob = dist.log_prob(actions.reshape(batch * steps, -1)).reshape(batch, steps)
        entropy = dist.entropy()
        assert entropy is not None
        return values, log_prob, entropy.reshape(batch, steps)

    def _shared_sequence(self, obs: Any, state0: Tensor, dt: Tensor, episode_start: Tensor) -> tuple[Tensor, Tensor]:
        assert self.value_head is not None
        steps = dt.shape[1]
        state, means, values = state0, [], []
        for t in range(steps):
            state = state * (1.0 - episode_start[:, t:t + 1].to(state.dtype))
            x = {k: v[:, t] for k, v in obs.items()} if isinstance(obs, dict) else obs[:, t]
            mean, state = self.actor(x, state, dt[:, t:t + 1])
            means.append(mean)
            values.append(self.value_head(state)[:, 0])
        return torch.stack(means, dim=1), torch.stack(values, dim=1)


def _norm_buffers(policy: RecurrentPolicy) -> dict[str, Tensor]:
    """The normalisation buffers of ``policy`` (flat ``obs_mean``/``obs_std`` or the encoders')."""
    return {k: v for k, v in policy.state_dict().items() if k.endswith(("obs_mean", "obs_std", ".mean", ".std"))}


class _ObsStats:
    """Running mean / variance of the float observation channels (images are scaled in the conv head)."""

    def __init__(self, space: gym.Space) -> None:
        if isinstance(space, gym.spaces.Dict):
            self.keys: list[str | None] = [k for k, s in sorted(space.spaces.items()) if not obslib.is_image_space(s)]
            shapes = {k: space.spaces[k].shape for k in self.keys if k is not None}
            self.rms = {k: RunningMeanStd(shape=tuple(shapes[k] or ())) for k in self.keys if k is not None}
            self.flat = False
        else:
            self.keys = [None]
            self.rms = {None: RunningMeanStd(shape=tuple(space.shape or ()))}  # type: ignore[dict-item]
            self.flat = True

    @property
    def count(self) -> float:
        return float(next(iter(self.rms.values())).count) if self.rms else 0.0

    def update(self, obs: obslib.Batch) -> None:
        for key, rms in self.rms.items():
            arr = np.asarray(obs if key is None else obs[key], dtype=np.float64)  # type: ignore[index]
            rms.update(arr.reshape(-1, *rms.mean.shape))

    def mean_std(self, floor: float) -> Any:
        def pair(rms: RunningMeanStd) -> tuple[np.ndarray, np.ndarray]:
            return rms.mean.astype(np.float32), np.maximum(np.sqrt(rms.var), max(floor, STD_MIN)).astype(np.float32)
        if self.flat:
            return pair(self.rms[None])  # type: ignore[index]
        return {k: pair(r) for k, r in self.rms.items()}

    def to_json(self) -> dict[str, Any]:
        return {str(k): {"mean": r.mean.tolist(), "var": r.var.tolist(), "count": float(r.count)}
                for k, r in self.rms.items()}

    def from_json(self, state: dict[str, Any]) -> None:
        for key, rms in self.rms.items():
            entry = state.get(str(key))
            if entry is None:
                raise LiquidControlError(f"the saved observation statistics lack key {key!r}.")
            mean, var = np.asarray(entry["mean"], np.float64), np.asarray(entry["var"], np.float64)
            if mean.shape != rms.mean.shape or var.shape != rms.var.shape:
                raise LiquidControlError(f"the saved observation statistics of {key!r} have shape {mean.shape}, "
                                         f"the env's observations {rms.mean.shape}.")
            rms.mean, rms.var, rms.count = mean, var, float(entry["count"])
