"""Batched rollouts: N envs stepping in lockstep with one agent.

The envs run in this process, one after the other at each step: on a
2-core machine shared with other jobs this beats ``AsyncVectorEnv`` (no
process hops, no pickling). When an env's episode ends it takes the next
seed from the queue, so every seed is played exactly once and the result of
an episode depends only on its seed, never on which slot ran it.

``on_step(event)`` is called after every lockstep step with a
:class:`StepEvent`; DAgger uses it to have the expert label what the learner
saw, other code to log or record.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.evaluate.agents import Agent
from liquidcontrol.evaluate.metrics import EpisodeRecord, path_length, smoothness
from liquidcontrol.perturb.base import control_period


@dataclass
class StepEvent:
    """What happened at one lockstep step. Arrays have one row per env.

    ``obs`` is what the agent saw, ``actions`` what it chose, ``next_obs``
    what the envs returned; ``active`` marks the envs that were running an
    episode (rows of idle envs are stale). ``seeds`` are the episode seeds.
    """

    step: int
    envs: Sequence[gym.Env]
    obs: np.ndarray
    actions: np.ndarray
    next_obs: np.ndarray
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    infos: list[dict[str, Any]]
    active: np.ndarray
    seeds: list[int | None]


StepHook = Callable[[StepEvent], None]


@dataclass
class _Episode:
    """Running totals of the episode in one slot."""

    seed: int
    actions: list[np.ndarray] = field(default_factory=list)
    positions: list[np.ndarray] = field(default_factory=list)
    ret: float = 0.0
    unstable: bool = False

    def finish(self, info: dict[str, Any], truncated: bool, period: float) -> EpisodeRecord:
        steps = len(self.actions)
        return EpisodeRecord(
            seed=self.seed,
            success=bool(info.get("is_success", False)) and not self.unstable,
            collision=bool(info.get("collision", False)),
            unstable=self.unstable or bool(info.get("unstable", False)),
            truncated=bool(truncated),
            steps=steps,
            duration_s=steps * period,
            path_length_m=path_length(np.array(self.positions)) if self.positions else 0.0,
            smoothness=smoothness(np.array(self.actions)),
            episode_return=float(self.ret),
        )


def _pose(info: dict[str, Any]) -> np.ndarray | None:
    pose = info.get("car_pose")
    return None if pose is None else np.asarray(pose, dtype=np.float64)[:2]


class _Lockstep:
    """Slot bookkeeping for :func:`run_episodes`."""

    def __init__(self, envs: Sequence[gym.Env], agent: Agent, seeds: Sequence[int], max_steps: int | None) -> None:
        self.envs, self.agent, self.max_steps = list(envs), agent, max_steps
        self.queue = list(seeds)[::-1]
        self.period = control_period(self.envs[0])
        shape = self.envs[0].observation_space.shape
        assert shape is not None, "run_episodes needs an observation space with a shape"
        self.obs_dim = int(np.prod(shape))
        self.obs = np.zeros((len(self.envs), self.obs_dim), dtype=np.float32)
        self.slots: list[_Episode | None] = [None] * len(self.envs)
        self.records: list[EpisodeRecord] = []

    def start(self, i: int) -> bool:
        """Begin the next queued episode in slot ``i``; False when the queue is empty."""
        if not self.queue:
            self.slots[i] = None
            return False
        seed = self.queue.pop()
        obs, info = self.envs[i].reset(seed=seed)
        self.obs[i] = np.asarray(obs, dtype=np.float32).reshape(-1)
        ep = self.slots[i] = _Episode(seed)
        pose = _pose(info)
        if pose is not None:
            ep.positions.append(pose)
        return True

    def step_env(self, i: int, action: np.ndarray) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Step one env; a non-finite action ends the episode as unstable instead of crashing the sweep."""
        ep = self.slots[i]
        assert ep is not None
        ep.actions.append(action)
        if not np.all(np.isfinite(action)):
            ep.unstable = True
            return self.obs[i], 0.0, True, False, {"unstable": True, "nan_action": True}
        obs, reward, terminated, truncated, info = self.envs[i].step(action)
        ep.ret += float(reward)
        pose = _pose(info)
        if pose is not None:
            ep.positions.append(pose)
        if self.max_steps is not None and len(ep.actions) >= self.max_steps:
            truncated = True
        return obs, float(reward), bool(terminated), bool(truncated), info


def run_episodes(
    envs: Sequence[gym.Env],
    agent: Agent,
    seeds: Sequence[int],
    on_step: StepHook | None = None,
    max_steps: int | None = None,
    progress: Any = None,
) -> list[EpisodeRecord]:
    """Play one episode per seed on ``envs`` in lockstep; records come back in seed order.

    ``max_steps`` truncates episodes (on top of the env's own limit).
    ``progress`` is an optional tqdm-like bar, advanced once per finished episode.
    """
    if not envs:
        raise LiquidControlError("run_episodes needs at least one env.")
    run = _Lockstep(envs, agent, seeds, max_steps)
    n = len(run.envs)
    agent.reset(n)
    active = np.array([run.start(i) for i in range(n)])
    dt = np.full((n, 1), run.period, dtype=np.float32)
    step = 0
    while active.any():
        actions = np.asarray(agent.act(run.obs.copy(), dt), dtype=np.float32)
        if actions.ndim != 2 or actions.shape[0] != n:
            raise LiquidControlError(f"agent {agent.name!r} returned actions of shape {actions.shape}; expected [{n}, act_dim].")
        event = _lockstep_step(run, actions, active, step)
        if on_step is not None:
            on_step(event)
        done = event.terminated | event.truncated
        restarted = np.zeros(n, dtype=bool)
        for i in np.flatnonzero(done):
            run.records.append(run.slots[i].finish(event.infos[i], event.truncated[i], run.period))  # type: ignore[union-attr]
            if progress is not None:
                progress.update(1)
            restarted[i] = run.start(int(i))
            active[i] = restarted[i]
        if restarted.any():
            agent.reset_done(restarted)
        step += 1
    order = {s: k for k, s in enumerate(seeds)}
    return sorted(run.records, key=lambda r: order[r.seed])


def _lockstep_step(run: _Lockstep, actions: np.ndarray, active: np.ndarray, step: int) -> StepEvent:
    """Step every active env once and collect what happened."""
    n = len(run.envs)
    obs_before = run.obs.copy()
    rewards = np.zeros(n)
    terminated = np.zeros(n, dtype=bool)
    truncated = np.zeros(n, dtype=bool)
    infos: list[dict[str, Any]] = [{} for _ in range(n)]
    seeds = [slot.seed if slot is not None else None for slot in run.slots]
    for i in np.flatnonzero(active):
        obs, rewards[i], terminated[i], truncated[i], infos[i] = run.step_env(int(i), actions[i])
        run.obs[i] = np.asarray(obs, dtype=np.float32).reshape(-1)
    return StepEvent(step, run.envs, obs_before, actions, run.obs.copy(), rewards, terminated, truncated,
                     infos, active.copy(), seeds)
