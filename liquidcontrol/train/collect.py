"""Drive N envs in lockstep and record what the expert would have done.

One loop serves both data sources of imitation learning:

- demonstrations: the expert drives (optionally with noise on the *executed*
  action, so the data shows recoveries; the labels stay clean);
- DAgger: the learner drives (or a per-step mix with probability ``beta``
  of the expert), and every visited state gets the expert's label.

The envs run in one process (``AsyncVectorEnv`` is slower on 2 cores).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np
import torch
from tqdm import tqdm

from liquidcontrol.envs import make_expert
from liquidcontrol.errors import LiquidControlError
from liquidcontrol.policies.base import RecurrentPolicy
from liquidcontrol.train.data import Demonstrations, Episode


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


class _OUNoise:
    """Ornstein-Uhlenbeck noise per env: smooth, so the car actually drifts
    off the expert's path and the data shows the way back."""

    def __init__(self, n: int, dim: int, sigma: np.ndarray, theta: float, rng: np.random.Generator):
        self.x = np.zeros((n, dim))
        self.sigma, self.theta, self.rng = sigma, theta, rng

    def reset(self, i: int) -> None:
        self.x[i] = 0.0

    def sample(self) -> np.ndarray:
        self.x += -self.theta * self.x + self.sigma * self.rng.standard_normal(self.x.shape)
        return self.x


def collect_episodes(
    env_id: str,
    n_episodes: int,
    seed: int,
    policy: RecurrentPolicy | None = None,
    beta: float = 1.0,
    action_noise: float | list[float] = 0.0,
    n_envs: int = 16,
    env_kwargs: dict | None = None,
    progress: bool = True,
    desc: str = "collect",
    wrap: Callable[[gym.Env, int], gym.Env] | None = None,
    max_steps: int | None = None,
    label: bool = True,
) -> tuple[Demonstrations, CollectStats]:
    """Run ``n_episodes`` episodes with seeds ``seed, seed+1, ...``.

    ``policy=None`` means the expert drives (``beta`` is then 1). Each step
    executes the expert's action with probability ``beta`` and the learner's
    otherwise (``wrap(env, index)`` may add perturbation wrappers to env
    ``index``: the learner then sees perturbed observations while the expert
    labels from the true state), plus OU noise of scale ``action_noise`` (in action units; one
    value for every action dimension or one per dimension, e.g. ``[0.1, 0]``
    to jitter steering but let the car stop). ``max_steps`` cuts episodes
    short (counted as failures): a learner stuck dithering near the goal would
    otherwise flood the aggregate with hundreds of near-identical states.
    ``label=False`` skips the expert entirely (a plain, faster rollout of the
    learner for validation; the recorded actions are then the learner's).
    Returns the episodes with expert labels, and outcome counts.
    """
    if policy is None:
        beta = 1.0
    rng = np.random.default_rng(seed)
    n_envs = max(1, min(n_envs, n_episodes))
    envs = [gym.make(env_id, **(env_kwargs or {})) for _ in range(n_envs)]
    if wrap is not None:
        envs = [wrap(e, i) for i, e in enumerate(envs)]
    if policy is None and not label:
        raise LiquidControlError("an unlabelled rollout needs a policy to drive.")
    experts = [make_expert(env_id) if label else None for _ in range(n_envs)]
    run = _Lockstep(envs, experts, policy, beta, rng, action_noise, max_steps)
    noise_meta = np.asarray(action_noise, dtype=float).tolist()
    demos = Demonstrations(meta={"env_id": env_id, "seed": seed, "beta": beta, "action_noise": noise_meta})
    stats = CollectStats()
    next_seed = seed
    bar = tqdm(total=n_episodes, desc=desc, disable=not progress, leave=False)
    try:
        for i in range(n_envs):
            run.start(i, next_seed)
            next_seed += 1
        while run.active.any():
            for i, ep, info in run.step():
                demos.add(ep)
                stats.episodes += 1
                stats.steps += len(ep)
                ok = bool(info.get("is_success", False))
                stats.successes += ok
                stats.outcomes.append(ok)
                stats.collisions += bool(info.get("collision", False))
                bar.update(1)
                if next_seed < seed + n_episodes:
                    run.start(i, next_seed)
                    next_seed += 1
    finally:
        bar.close()
        for e in envs:
            e.close()
    return demos, stats


class _Lockstep:
    """Bookkeeping for N envs stepping together with one batched policy call."""

    def __init__(self, envs, experts, policy, beta, rng, action_noise, max_steps=None):
        self.envs, self.experts, self.policy = envs, experts, policy
        self.max_steps = max_steps
        self.beta, self.rng = beta, rng
        n = len(envs)
        act_dim = envs[0].action_space.shape[0]
        sigma = np.broadcast_to(np.asarray(action_noise, dtype=np.float64), (act_dim,))
        self.noise = _OUNoise(n, act_dim, sigma, 0.15, rng) if sigma.any() else None
        self.active = np.zeros(n, dtype=bool)
        self.obs = np.zeros((n, envs[0].observation_space.shape[0]), np.float32)
        self.buf: list[dict[str, list]] = [dict(obs=[], act=[], dt=[]) for _ in range(n)]
        self.state = policy.initial_state(n) if policy is not None else None
        self.period = float(getattr(envs[0].unwrapped, "control_period", 0.05))
        self.low, self.high = envs[0].action_space.low, envs[0].action_space.high

    def start(self, i: int, seed: int) -> None:
        obs, _ = self.envs[i].reset(seed=seed)
        self.obs[i] = obs
        self.active[i] = True
        self.buf[i] = dict(obs=[], act=[], dt=[])
        if self.experts[i] is not None:
            self.experts[i].reset()
        if self.noise is not None:
            self.noise.reset(i)
        if self.state is not None:
            self.state[i] = 0.0

    def _learner_actions(self) -> np.ndarray | None:
        if self.policy is None:
            return None
        with torch.no_grad():
            obs = torch.as_tensor(self.obs)
            dt = torch.full((len(self.envs), 1), self.period)
            action, self.state = self.policy(obs, self.state, dt)
        return action.numpy()

    def step(self) -> list[tuple[int, Episode, dict]]:
        learner = self._learner_actions()
        noise = self.noise.sample() if self.noise is not None else None
        finished = []
        for i in np.flatnonzero(self.active):
            expert = self.experts[i]
            if expert is None:
                assert learner is not None
                label = learner[i].astype(np.float32)
            else:
                label = np.asarray(expert.act(self.envs[i]), dtype=np.float32)
            executed = label
            if learner is not None and self.rng.random() >= self.beta:
                executed = learner[i]
            if noise is not None:
                executed = executed + noise[i]
            executed = np.clip(executed, self.low, self.high)
            b = self.buf[i]
            b["obs"].append(self.obs[i].copy())
            b["act"].append(label)
            b["dt"].append(self.period)
            obs, _r, term, trunc, info = self.envs[i].step(executed)
            if not np.isfinite(obs).all():
                raise LiquidControlError(f"env {i} returned a non-finite observation; the simulation is unstable.")
            self.obs[i] = obs
            if self.max_steps is not None and len(b["obs"]) >= self.max_steps:
                trunc, info = True, {**info, "is_success": False}
            if term or trunc:
                self.active[i] = False
                ep = Episode(np.array(b["obs"], np.float32), np.array(b["act"], np.float32),
                             np.array(b["dt"], np.float32))
                finished.append((int(i), ep, info))
        return finished
