"""A rollout buffer that keeps the recurrent state and ``dt``, and hands out whole sequences.

It extends stable-baselines3's :class:`RolloutBuffer` (whose GAE
``compute_returns_and_advantage`` it keeps) with, per step and env:

- ``states`` — the policy's flat state *before* the step, not yet reset for
  an episode start (the reset is replayed from ``episode_starts``, as the
  rollout applied it);
- ``dts`` — the seconds since the previous step the liquid cell was given;
- observations of any structure the pipeline supports (flat ``Box`` or a
  ``Dict`` with camera images, :mod:`liquidcontrol.obs`).

:meth:`sequences` cuts the ``n_steps x n_envs`` grid into chunks of
``seq_len`` consecutive steps of one env. Each chunk starts from its stored
state and runs with the episode-start resets inside it, so one fused
``forward_sequence`` call replays it exactly; no padding or per-episode
splitting is needed (sb3-contrib's ``RecurrentRolloutBuffer`` pads each
episode's pieces instead, because its LSTM restarts at episode boundaries).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.buffers import RolloutBuffer
from torch import Tensor

from liquidcontrol import obs as obslib
from liquidcontrol.errors import LiquidControlError


@dataclass
class SequenceBatch:
    """One minibatch of ``B`` sequences of ``T`` steps (torch tensors)."""

    observations: Any  # [B, T, ...] tensor, or {key: [B, T, ...]}
    actions: Tensor  # [B, T, A]
    states: Tensor  # [B, S]: the stored state before each sequence's first step
    dts: Tensor  # [B, T] s
    episode_starts: Tensor  # [B, T]
    old_values: Tensor  # [B, T]
    old_log_prob: Tensor  # [B, T]
    advantages: Tensor  # [B, T]
    returns: Tensor  # [B, T]


class SequenceRolloutBuffer(RolloutBuffer):
    """See the module docstring. ``state_dim`` is the policy's flat state width."""

    dts: np.ndarray
    states: np.ndarray

    def __init__(self, buffer_size: int, observation_space: gym.Space, action_space: gym.Space, state_dim: int,
                 gae_lambda: float = 0.95, gamma: float = 0.99, n_envs: int = 1) -> None:
        obslib.check_space(observation_space)
        self.state_dim = int(state_dim)
        super().__init__(buffer_size, observation_space, action_space, device="cpu", gae_lambda=gae_lambda,
                         gamma=gamma, n_envs=n_envs)

    def reset(self) -> None:
        n, e = self.buffer_size, self.n_envs
        space = self.observation_space
        if isinstance(space, gym.spaces.Dict):
            self.observations = {k: np.zeros((n, e, *(s.shape or ())), np.uint8 if obslib.is_image_space(s)
                                             else np.float32) for k, s in space.spaces.items()}  # type: ignore[assignment]
        else:
            self.observations = np.zeros((n, e, int(np.prod(space.shape or (0,)))), np.float32)
        self.actions = np.zeros((n, e, self.action_dim), np.float32)
        for name in ("rewards", "returns", "episode_starts", "values", "log_probs", "advantages", "dts"):
            setattr(self, name, np.zeros((n, e), np.float32))
        self.states = np.zeros((n, e, self.state_dim), np.float32)
        self.pos, self.full, self.generator_ready = 0, False, False

    def add_step(self, obs: obslib.Batch, action: np.ndarray, reward: np.ndarray, episode_start: np.ndarray,
                 value: Tensor, log_prob: Tensor, state: Tensor, dt: np.ndarray) -> None:
        """Store one step of every env (``state``: before the step, not reset)."""
        if self.full:
            raise LiquidControlError("the rollout buffer is full; reset it before adding more steps.")
        p = self.pos
        if isinstance(self.observations, dict):
            for k, arr in self.observations.items():
                arr[p] = np.asarray(obs[k])  # type: ignore[index]
        else:
            self.observations[p] = np.asarray(obs, np.float32).reshape(self.n_envs, -1)
        self.actions[p] = np.asarray(action, np.float32).reshape(self.n_envs, self.action_dim)
        self.rewards[p] = np.asarray(reward, np.float32)
        self.episode_starts[p] = np.asarray(episode_start, np.float32)
        self.values[p] = value.detach().cpu().numpy().reshape(self.n_envs)
        self.log_probs[p] = log_prob.detach().cpu().numpy().reshape(self.n_envs)
        self.states[p] = state.detach().cpu().numpy().reshape(self.n_envs, self.state_dim)
        self.dts[p] = np.asarray(dt, np.float32).reshape(self.n_envs)
        self.pos += 1
        if self.pos == self.buffer_size:
            self.full = True

    def sequences(self, seq_len: int, batch_size: int, rng: np.random.Generator) -> Iterator[SequenceBatch]:
        """Minibatches of whole sequences, ``batch_size`` steps each (``batch_size // seq_len`` sequences),
        in a random order over one pass of the buffer."""
        if not self.full:
            raise LiquidControlError("the rollout buffer is not full yet.")
        if seq_len < 1 or self.buffer_size % seq_len:
            raise LiquidControlError(f"seq_len {seq_len} must divide n_steps {self.buffer_size}.")
        chunks = self.buffer_size // seq_len
        per_batch = max(1, batch_size // seq_len)
        order = rng.permutation(chunks * self.n_envs)
        for first in range(0, len(order), per_batch):
            ids = order[first:first + per_batch]
            yield self._batch(ids // self.n_envs, ids % self.n_envs, seq_len)

    def _batch(self, chunk: np.ndarray, env: np.ndarray, seq_len: int) -> SequenceBatch:
        steps = chunk[:, None] * seq_len + np.arange(seq_len)[None, :]  # [B, T] time indices
        envs = env[:, None]

        def take(arr: np.ndarray) -> Tensor:
            return torch.as_tensor(arr[steps, envs])

        if isinstance(self.observations, dict):
            observations: Any = {k: take(v) for k, v in self.observations.items()}
        else:
            observations = take(self.observations)
        return SequenceBatch(
            observations=observations, actions=take(self.actions),
            states=torch.as_tensor(self.states[chunk * seq_len, env]), dts=take(self.dts),
            episode_starts=take(self.episode_starts), old_values=take(self.values),
            old_log_prob=take(self.log_probs), advantages=take(self.advantages), returns=take(self.returns))
