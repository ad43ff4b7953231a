"""Imitation data through the one lockstep loop (:func:`liquidcontrol.rollout.run_episodes`).

One agent serves both data sources of imitation learning:

- demonstrations: the expert drives (optionally with smooth noise on the
  *executed* action, so the data shows recoveries; the labels stay clean);
- DAgger: the learner drives (or, per step with probability ``beta``, the
  expert), and every visited state gets the expert's label.

``label=False`` skips the expert: a plain rollout of the learner (validation).
Noise and the beta draws come from a generator seeded by the episode seed, so
an episode's data depends only on its seed, not on the slot that ran it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from liquidcontrol import obs as obslib
from liquidcontrol.errors import LiquidControlError
from liquidcontrol.progress import progress_bar
from liquidcontrol.rollout import (
    ExpertAgent,
    StepEvent,
    TorchPolicyAgent,
    control_period,
    run_episodes,
)
from liquidcontrol.tasks import Task
from liquidcontrol.train.data import Demonstrations, Episode

OU_THETA = 0.15  # mean reversion per step of the demonstration noise


@dataclass
class CollectStats:
    """Outcome counts of the driven episodes (success of whoever drove)."""

    episodes: int = 0
    successes: int = 0
    collisions: int = 0
    steps: int = 0
    outcomes: list[bool] = field(default_factory=list)

    @property
    def success_rate(self) -> float:
        return self.successes / max(self.episodes, 1)


class ImitationAgent:
    """Executes the expert's or the learner's action (plus OU noise) and keeps
    the expert's label for the state it acted on (``labels`` [N, act_dim])."""

    def __init__(self, envs: Sequence[gym.Env], task: Task, policy: Any, beta: float,
                 action_noise: float | Sequence[float], label: bool) -> None:
        if policy is None and not label:
            raise LiquidControlError("an unlabelled rollout needs a policy to drive.")
        self.name = "imitation"
        self.learner = TorchPolicyAgent(policy) if policy is not None else None
        self.expert = ExpertAgent(envs, task.make_expert) if label else None
        self.beta = 1.0 if policy is None else float(beta)
        space = envs[0].action_space
        assert isinstance(space, gym.spaces.Box)
        self.low, self.high = space.low, space.high
        act_dim = int(space.shape[0])
        self.sigma = np.broadcast_to(np.asarray(action_noise, dtype=np.float64), (act_dim,)).copy()
        self.noise = np.zeros((len(envs), act_dim))
        self.rngs = [np.random.default_rng(0) for _ in envs]
        self.labels = np.zeros((len(envs), act_dim), np.float32)

    def reset(self, n_envs: int) -> None:
        for agent in (self.learner, self.expert):
            if agent is not None:
                agent.reset(n_envs)

    def on_episode_start(self, slot: int, seed: int) -> None:
        self.rngs[slot] = np.random.default_rng([7, seed])
        self.noise[slot] = 0.0

    def act(self, obs: obslib.Batch, dt: np.ndarray, active: np.ndarray) -> np.ndarray:
        learner = self.learner.act(obs, dt, active) if self.learner is not None else None
        expert = self.expert.act(obs, dt, active) if self.expert is not None else None
        labels = expert if expert is not None else learner
        assert labels is not None
        self.labels = labels
        executed = labels.astype(np.float64)
        for i in np.flatnonzero(active):
            rng = self.rngs[i]
            if learner is not None and expert is not None and rng.random() >= self.beta:
                executed[i] = learner[i]
            if self.sigma.any():
                self.noise[i] += -OU_THETA * self.noise[i] + self.sigma * rng.standard_normal(self.sigma.shape)
                executed[i] += self.noise[i]
        return np.clip(executed, self.low, self.high).astype(np.float32)

    def reset_done(self, mask: np.ndarray) -> None:
        for agent in (self.learner, self.expert):
            if agent is not None:
                agent.reset_done(mask)


class _Recorder:
    """An ``on_step`` hook: what each slot saw, with the agent's labels, per episode seed."""

    def __init__(self, agent: ImitationAgent, n: int) -> None:
        self.agent = agent
        self.buffers: list[dict[str, list]] = [dict(obs=[], act=[], dt=[]) for _ in range(n)]
        self.episodes: dict[int, Episode] = {}

    def __call__(self, event: StepEvent) -> None:
        done = event.terminated | event.truncated
        dt = control_period(event.envs[0])
        for i in np.flatnonzero(event.active):
            buf = self.buffers[i]
            buf["obs"].append(obslib.row(event.obs, int(i)))
            buf["act"].append(self.agent.labels[i].copy())
            buf["dt"].append(dt)
            if done[i]:
                seed = event.seeds[i]
                assert seed is not None
                self.episodes[seed] = Episode(obslib.stack(buf["obs"]), np.array(buf["act"], np.float32),
                                              np.array(buf["dt"], np.float32))
                self.buffers[i] = dict(obs=[], act=[], dt=[])


def collect_episodes(
    task: Task,
    seeds: Sequence[int],
    policy: Any = None,
    beta: float = 1.0,
    action_noise: float | Sequence[float] = 0.0,
    n_envs: int = 16,
    progress: bool = True,
    desc: str = "collect",
    wrap: Callable[[gym.Env], gym.Env] | None = None,
    max_steps: int | None = None,
    label: bool = True,
) -> tuple[Demonstrations, CollectStats]:
    """One episode per seed of ``task``; returns the episodes (expert labels) and outcome counts.

    ``policy=None``: the expert drives. Otherwise each step executes the
    expert's action with probability ``beta`` and the learner's otherwise;
    ``wrap(env)`` may add perturbation wrappers (the learner then sees
    perturbed observations while the expert labels from the true state);
    whatever it does must depend on the episode seed only (see
    ``perturb.mix.EpisodeMix``), never on the slot;
    ``action_noise`` is the OU noise scale in action units, one value or one
    per action dimension. ``max_steps`` cuts episodes short (failures unless
    the env reported success on that step). ``label=False`` skips the expert
    (a plain learner rollout; the recorded actions are then the learner's).
    """
    seeds = list(seeds)
    if not seeds:
        raise LiquidControlError("collect_episodes needs at least one episode seed.")
    width = max(1, min(n_envs, len(seeds)))
    envs = [gym.make(task.env_id, **task.env_kwargs) for _ in range(width)]
    if wrap is not None:
        envs = [wrap(e) for e in envs]
    try:
        agent = ImitationAgent(envs, task, policy, beta, action_noise, label)
        recorder = _Recorder(agent, width)
        with progress_bar(len(seeds), desc, progress) as bar:
            records = run_episodes(envs, agent, seeds, on_step=recorder, max_steps=max_steps, progress=bar,
                                   task=task)
    finally:
        for e in envs:
            e.close()
    noise_meta = np.asarray(action_noise, dtype=float).tolist()
    demos = Demonstrations(meta={"env_id": task.env_id, "task": task.name, "seeds": [seeds[0], seeds[-1]],
                                 "beta": agent.beta, "action_noise": noise_meta})
    stats = CollectStats()
    for rec in records:
        episode = recorder.episodes[rec.seed]
        # Unlabelled rollouts record the learner's own actions; one that diverged (a NaN action
        # ended it as unstable) still counts as a failure below but is not training data.
        if label or (obslib.finite(episode.obs) and np.isfinite(episode.act).all()):
            demos.add(episode)
        stats.episodes += 1
        stats.steps += rec.steps
        stats.successes += rec.success
        stats.outcomes.append(rec.success)
        stats.collisions += rec.collision
    return demos, stats
