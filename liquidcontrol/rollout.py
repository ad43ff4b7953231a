"""The one lockstep loop: N envs stepping together with one agent.

Demonstrations, DAgger rollouts, validation and evaluation all run through
:func:`run_episodes`, so they agree on NaN handling, step caps and state
resets:

- the envs run in this process, one after the other at each step (on a
  2-core machine this beats ``AsyncVectorEnv``: no process hops, no pickling);
- when a slot's episode ends it takes the next seed from the queue, so every
  seed is played exactly once and an episode's result depends only on its
  seed, never on which slot ran it;
- a non-finite action or observation ends that episode as *unstable* (a
  failure) instead of crashing the run;
- ``max_steps`` truncates an episode; it counts as a success only if the env
  said so on that very step;
- the agent's recurrent state is reset for a slot when it starts an episode.

``control_period`` (seconds per env step) is re-exported from
:mod:`liquidcontrol.perturb.base`.

An :class:`Agent` turns a batch of observations (an array ``[N, D]`` or a
dict of arrays, see :mod:`liquidcontrol.obs`) into actions ``[N, act_dim]``.
``on_step(event)`` runs after every lockstep step (DAgger's expert labelling,
video frames, logging).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np

from liquidcontrol import obs as obslib
from liquidcontrol.errors import LiquidControlError
from liquidcontrol.perturb.base import control_period

if TYPE_CHECKING:
    from liquidcontrol.tasks import Task


__all__ = ["Agent", "EpisodeRecord", "ExpertAgent", "StepEvent", "StepHook", "TorchPolicyAgent", "control_period",
           "path_length", "run_episodes", "smoothness"]


@runtime_checkable
class Agent(Protocol):
    """What the loop needs from a controller.

    ``reset(n_envs)`` before the first step; ``act(obs, dt [N, 1] s, active [N])``
    returns actions for every row (rows of idle slots are ignored);
    ``reset_done(mask)`` when the flagged slots start a new episode.
    An agent may also define ``on_episode_start(slot, seed)``.
    """

    name: str

    def reset(self, n_envs: int) -> None: ...

    def act(self, obs: obslib.Batch, dt: np.ndarray, active: np.ndarray) -> np.ndarray: ...

    def reset_done(self, mask: np.ndarray) -> None: ...


@dataclass
class EpisodeRecord:
    """One finished episode. Times in seconds, lengths in metres, actions in action units.

    ``metrics`` holds the task's extra per-episode metrics (see ``Task.metrics``).
    """

    seed: int
    success: bool
    collision: bool
    unstable: bool
    truncated: bool
    steps: int
    duration_s: float
    path_length_m: float
    smoothness: float  # mean |a_t - a_{t-1}| over steps and action dimensions
    episode_return: float
    metrics: dict[str, float] = field(default_factory=dict)


def path_length(positions: np.ndarray) -> float:
    """Length of a polyline of positions [T, D] in their unit (every coordinate counts:
    a task's ``position`` gives x, y for a car and x, y, z for a drone)."""
    pts = np.asarray(positions, dtype=np.float64)
    if pts.shape[0] < 2:
        return 0.0
    return float(np.linalg.norm(np.diff(pts, axis=0), axis=1).sum())


def smoothness(actions: np.ndarray) -> float:
    """Mean absolute change of the action between consecutive steps, [T, act_dim] -> scalar."""
    acts = np.asarray(actions, dtype=np.float64)
    if acts.shape[0] < 2:
        return 0.0
    return float(np.abs(np.diff(acts, axis=0)).mean())


@dataclass
class StepEvent:
    """What happened at one lockstep step; arrays have one row per slot.

    ``obs`` is what the agent saw, ``actions`` what it chose, ``next_obs``
    what the envs returned; ``active`` marks slots that ran an episode
    (rows of idle slots are stale); ``seeds`` the episode seeds.
    """

    step: int
    envs: Sequence[gym.Env]
    obs: obslib.Batch
    actions: np.ndarray
    next_obs: obslib.Batch
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    infos: list[dict[str, Any]]
    active: np.ndarray
    seeds: list[int | None]


StepHook = Callable[[StepEvent], None]


@dataclass
class _Slot:
    """Running totals of the episode in one slot."""

    seed: int
    task: Task | None
    steps: int = 0
    actions: list[np.ndarray] = field(default_factory=list)  # the finite ones (a non-finite one ends the episode)
    positions: list[Sequence[float]] = field(default_factory=list)
    ret: float = 0.0
    unstable: bool = False
    accumulators: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.last_info: dict[str, Any] = {}
        if self.task is not None:
            from liquidcontrol.tasks import MetricAccumulator

            self.accumulators = [MetricAccumulator(m) for m in self.task.metrics]
        # "last" metrics read only the final step's info, once, in finish().
        self.per_step = [acc for acc in self.accumulators if acc.metric.reduce != "last"]

    def observe(self, info: dict[str, Any]) -> None:
        self.last_info = info
        if self.task is None:
            return
        if self.task.position is not None:
            pos = self.task.position(info)
            if pos is not None:
                self.positions.append(pos)
        for acc in self.per_step:
            acc.add(info)

    def finish(self, info: dict[str, Any], truncated: bool, period: float) -> EpisodeRecord:
        steps = self.steps
        for acc in self.accumulators:
            if acc.metric.reduce == "last" and self.last_info:
                acc.add(self.last_info)
        metrics = {acc.metric.name: acc.value() for acc in self.accumulators}
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
            # A metric never measured (or not finite) is left out: records stay strict-JSON-safe.
            metrics={k: v for k, v in metrics.items() if math.isfinite(v)},
        )


class _Lockstep:
    """Slot bookkeeping for :func:`run_episodes`."""

    def __init__(self, envs: Sequence[gym.Env], agent: Agent, seeds: Sequence[int],
                 max_steps: int | None, task: Task | None) -> None:
        self.envs, self.agent, self.max_steps, self.task = list(envs), agent, max_steps, task
        self.queue = list(seeds)[::-1]
        self.period = control_period(self.envs[0])
        self.obs = obslib.empty_batch(self.envs[0].observation_space, len(self.envs))
        self.slots: list[_Slot | None] = [None] * len(self.envs)
        self.records: list[EpisodeRecord] = []
        self._start_hook = getattr(agent, "on_episode_start", None)

    def start(self, i: int) -> bool:
        """Begin the next queued episode in slot ``i``; False when the queue is empty."""
        if not self.queue:
            self.slots[i] = None
            return False
        seed = self.queue.pop()
        obs, info = self.envs[i].reset(seed=seed)
        if not obslib.finite(obs):
            raise LiquidControlError(f"the env returned a non-finite observation on reset (seed {seed}).")
        obslib.put(self.obs, i, obs)
        slot = self.slots[i] = _Slot(seed, self.task)
        slot.observe(info)
        if self._start_hook is not None:
            self._start_hook(i, seed)
        return True

    def step_env(self, i: int, action: np.ndarray) -> tuple[bool, bool, float, dict[str, Any]]:
        """Step one env; returns (terminated, truncated, reward, info)."""
        slot = self.slots[i]
        assert slot is not None
        slot.steps += 1
        if not np.all(np.isfinite(action)):
            slot.unstable = True
            return True, False, 0.0, {"unstable": True, "nan_action": True}
        slot.actions.append(action)
        obs, reward, terminated, truncated, info = self.envs[i].step(action)
        if not obslib.finite(obs):
            slot.unstable = True
            return True, False, float(reward), {**info, "unstable": True, "nan_observation": True}
        obslib.put(self.obs, i, obs)
        slot.ret += float(reward)
        slot.observe(info)
        if self.max_steps is not None and slot.steps >= self.max_steps and not terminated:
            truncated = True
        return bool(terminated), bool(truncated), float(reward), info


def run_episodes(
    envs: Sequence[gym.Env],
    agent: Agent,
    seeds: Sequence[int],
    on_step: StepHook | None = None,
    max_steps: int | None = None,
    progress: Any = None,
    task: Task | None = None,
) -> list[EpisodeRecord]:
    """Play one episode per seed on ``envs`` in lockstep; records come back in seed order.

    ``max_steps`` truncates episodes (on top of the env's own limit);
    ``progress`` is an optional tqdm-like bar advanced per finished episode;
    ``task`` supplies the extra per-episode metrics and the position used
    for path length.
    """
    if not envs:
        raise LiquidControlError("run_episodes needs at least one env.")
    if len(set(seeds)) != len(seeds):
        raise LiquidControlError("run_episodes got repeated seeds; every seed is one episode.")
    run = _Lockstep(envs, agent, seeds, max_steps, task)
    n = len(run.envs)
    agent.reset(n)
    active = np.array([run.start(i) for i in range(n)])
    dt = np.full((n, 1), run.period, dtype=np.float32)
    step = 0
    while active.any():
        obs_before = obslib.copy(run.obs)
        actions = np.asarray(agent.act(obs_before, dt, active.copy()), dtype=np.float32)
        if actions.ndim != 2 or actions.shape[0] != n:
            raise LiquidControlError(f"agent {agent.name!r} returned actions of shape {actions.shape}; expected [{n}, act_dim].")
        rewards = np.zeros(n)
        terminated = np.zeros(n, dtype=bool)
        truncated = np.zeros(n, dtype=bool)
        infos: list[dict[str, Any]] = [{} for _ in range(n)]
        seeds_now = [slot.seed if slot is not None else None for slot in run.slots]
        for i in np.flatnonzero(active):
            terminated[i], truncated[i], rewards[i], infos[i] = run.step_env(int(i), actions[i])
        if on_step is not None:
            on_step(StepEvent(step, run.envs, obs_before, actions, obslib.copy(run.obs), rewards,
                              terminated, truncated, infos, active.copy(), seeds_now))
        restarted = np.zeros(n, dtype=bool)
        for i in np.flatnonzero(terminated | truncated):
            run.records.append(run.slots[i].finish(infos[i], bool(truncated[i]), run.period))  # type: ignore[union-attr]
            if progress is not None:
                progress.update(1)
            restarted[i] = run.start(int(i))
            active[i] = restarted[i]
        if restarted.any():
            agent.reset_done(restarted)
        step += 1
    order = {s: k for k, s in enumerate(seeds)}
    return sorted(run.records, key=lambda r: order[r.seed])


# -- agents shared by training and evaluation ---------------------------------
class TorchPolicyAgent:
    """A torch :class:`~liquidcontrol.policies.base.RecurrentPolicy`, batched, no gradients."""

    def __init__(self, policy: Any, name: str = "policy (torch)") -> None:
        self.policy = policy.eval()
        self.name = name
        self.state: Any = None

    def reset(self, n_envs: int) -> None:
        self.state = self.policy.initial_state(n_envs)

    def act(self, obs: obslib.Batch, dt: np.ndarray, active: np.ndarray | None = None) -> np.ndarray:
        import torch

        with torch.no_grad():
            if isinstance(obs, dict):
                obs_t: Any = {k: torch.as_tensor(v) for k, v in obs.items()}
            else:
                obs_t = torch.as_tensor(np.asarray(obs, dtype=np.float32))
            dt_t = torch.as_tensor(np.asarray(dt, dtype=np.float32).reshape(-1, 1))
            action, self.state = self.policy(obs_t, self.state, dt_t)
        return action.numpy().astype(np.float32)

    def reset_done(self, mask: np.ndarray) -> None:
        import torch

        done = torch.as_tensor(np.asarray(mask, dtype=bool))
        done = done.reshape(-1, *([1] * (self.state.dim() - 1)))
        # Zero the restarted rows (what training's (1 - done) * h does for finite states); masked_fill also
        # clears a state that diverged to NaN/inf, which a multiplication by 0 would keep.
        self.state = self.state.masked_fill(done, 0.0)


class ExpertAgent:
    """The task's scripted expert, one instance per env; it reads each env's true state."""

    def __init__(self, envs: Sequence[gym.Env], make_expert: Callable[[], Any], name: str = "expert") -> None:
        self.envs = list(envs)
        self.experts = [make_expert() for _ in self.envs]
        self.name = name
        self.act_dim = int(np.prod(self.envs[0].action_space.shape or (1,)))

    def reset(self, n_envs: int) -> None:
        if n_envs != len(self.envs):
            raise LiquidControlError(f"the expert agent was built for {len(self.envs)} envs, not {n_envs}.")
        for expert in self.experts:
            expert.reset()

    def act(self, obs: obslib.Batch, dt: np.ndarray, active: np.ndarray | None = None) -> np.ndarray:
        del obs, dt  # privileged: the expert plans from the simulator state, not the (perturbed) sensors
        out = np.zeros((len(self.envs), self.act_dim), np.float32)
        rows = range(len(self.envs)) if active is None else np.flatnonzero(active)
        for i in rows:
            out[i] = np.asarray(self.experts[i].act(self.envs[i].unwrapped), np.float32)
        return out

    def reset_done(self, mask: np.ndarray) -> None:
        for i in np.flatnonzero(mask):
            self.experts[i].reset()
