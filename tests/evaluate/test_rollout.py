"""Lockstep rollouts, the on_step hook, agents and sweeps on the stand-in env."""

from __future__ import annotations

import json
from dataclasses import asdict

import gymnasium as gym
import numpy as np
import pytest
import torch
from liquidcontrol.policies.base import RecurrentPolicy
from standin_env import StandInParkingEnv

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.evaluate import (
    TorchPolicyAgent,
    evaluate,
    make_env,
    run_episodes,
    sweep_conditions,
)


class ScriptedAgent:
    """Plays a fixed action sequence; counts resets."""

    name = "scripted"

    def __init__(self, actions: np.ndarray) -> None:
        self.actions, self.t = actions, None
        self.resets: list[np.ndarray] = []

    def reset(self, n_envs):
        self.t = np.zeros(n_envs, dtype=int)

    def act(self, obs, dt, active=None):
        assert dt.shape == (obs.shape[0], 1) and np.allclose(dt, 0.05)
        assert active is not None and active.shape == (obs.shape[0],) and active.dtype == bool
        out = self.actions[np.minimum(self.t, len(self.actions) - 1)]
        self.t += 1
        return out

    def reset_done(self, mask):
        self.resets.append(mask.copy())
        self.t[mask] = 0


class Integrator(RecurrentPolicy):
    """state += obs[:, :2] * dt; action = state (a tiny recurrent policy with known numbers)."""

    @property
    def state_dim(self):
        return 2

    def _core_step(self, x, state, t):
        new = state + x[:, :2] * t
        return new, new


def test_scripted_trajectory_metrics(standin_id, standin_task):
    # Drive +x for 10 steps at 0.5 m/s, then stop: 0.25 m path, one action change of 1.
    actions = np.array([[1.0, 0.0]] * 10 + [[0.0, 0.0]] * 10, dtype=np.float32)
    env = make_env(standin_id, max_steps=20)
    (rec,) = run_episodes([env], ScriptedAgent(actions), [3], task=standin_task)
    assert rec.steps == 20 and rec.truncated and not rec.success
    assert rec.path_length_m == pytest.approx(0.25, abs=1e-6)
    assert rec.smoothness == pytest.approx(1.0 / 19 / 2)
    assert rec.duration_s == pytest.approx(1.0)
    start = make_env(standin_id).reset(seed=3)[1]["car_pose"]
    # The task's "last" metric: distance from the origin after moving 0.25 m along +x.
    assert rec.metrics["final_distance_m"] == pytest.approx(np.hypot(start[0] + 0.25, start[1]), abs=1e-6)


def test_results_independent_of_slots_and_hook_sees_every_step(standin_id, standin_expert):
    seeds = [5, 6, 7, 8, 9]
    single = [make_env(standin_id)]
    one = run_episodes(single, standin_expert(single), seeds)
    envs = [make_env(standin_id) for _ in range(3)]
    events = []
    three = run_episodes(envs, standin_expert(envs), seeds, on_step=events.append)
    assert [r.seed for r in three] == seeds and [r.seed for r in one] == seeds
    assert [(r.steps, r.success, r.path_length_m) for r in one] == [(r.steps, r.success, r.path_length_m) for r in three]
    assert all(r.success for r in one)
    assert sum(int(e.active.sum()) for e in events) == sum(r.steps for r in three)
    assert events[0].obs.shape == (3, 10) and events[0].actions.shape == (3, 2) and len(events[0].infos) == 3


def test_reset_done_marks_only_restarted_envs(standin_id):
    agent = ScriptedAgent(np.zeros((1, 2), np.float32))
    envs = [make_env(standin_id, max_steps=3 + k) for k in range(2)]
    run_episodes(envs, agent, [0, 1, 2, 3])
    assert agent.resets[0].tolist() == [True, False]  # env 0 finishes first and takes seed 2


def test_nan_action_ends_episode_as_unstable(standin_id, standin_task):
    agent = ScriptedAgent(np.array([[0.0, 0.0], [np.nan, 0.0]], np.float32))
    (rec,) = run_episodes([make_env(standin_id)], agent, [0], task=standin_task)
    assert rec.unstable and not rec.success and rec.steps == 2
    # The record stays finite (strict JSON, as every results file is written).
    assert np.isfinite(rec.smoothness) and np.isfinite(rec.path_length_m)
    json.dumps(asdict(rec), allow_nan=False)


class NaNObservationAt(gym.Wrapper):
    """Returns a NaN observation on step ``k`` of every episode."""

    def __init__(self, env, k):
        super().__init__(env)
        self.k, self.t = k, 0

    def reset(self, **kwargs):
        self.t = 0
        return self.env.reset(**kwargs)

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.t += 1
        if self.t == self.k:
            obs = np.full_like(obs, np.nan)
        return obs, reward, terminated, truncated, info


def test_nan_observation_ends_episode_as_unstable_and_is_never_fed_to_the_agent(standin_id):
    seen = []
    agent = ScriptedAgent(np.zeros((1, 2), np.float32))
    act = agent.act
    agent.act = lambda obs, dt, active=None: (seen.append(obs.copy()), act(obs, dt, active))[1]
    (rec,) = run_episodes([NaNObservationAt(make_env(standin_id), 3)], agent, [0])
    assert rec.unstable and not rec.success and rec.steps == 3
    assert len(seen) == 3 and all(np.isfinite(o).all() for o in seen)


def test_max_steps_counts_as_success_only_if_the_env_said_so_on_that_step(standin_id, standin_expert):
    env = [make_env(standin_id)]
    (full,) = run_episodes(env, standin_expert(env), [4])
    assert full.success and not full.truncated
    (exact,) = run_episodes(env, standin_expert(env), [4], max_steps=full.steps)
    assert exact.success and exact.steps == full.steps and not exact.truncated
    (short,) = run_episodes(env, standin_expert(env), [4], max_steps=full.steps - 1)
    assert not short.success and short.truncated and short.steps == full.steps - 1


def test_episode_start_hook_and_active_rows(standin_id):
    class Recorder(ScriptedAgent):
        def __init__(self):
            super().__init__(np.zeros((1, 2), np.float32))
            self.starts, self.active = [], []

        def on_episode_start(self, slot, seed):
            self.starts.append((slot, seed))

        def act(self, obs, dt, active=None):
            self.active.append(active.copy())
            return super().act(obs, dt, active)

    agent = Recorder()
    envs = [make_env(standin_id, max_steps=2), make_env(standin_id, max_steps=5)]
    recs = run_episodes(envs, agent, [10, 11, 12])
    assert agent.starts == [(0, 10), (1, 11), (0, 12)]  # slot 0 finishes first and takes the next seed
    assert [r.steps for r in recs] == [2, 5, 2]
    # Slot 0 runs seeds 10 and 12 (4 steps), then idles while slot 1 finishes its 5 steps.
    assert [a.tolist() for a in agent.active] == [[True, True]] * 4 + [[False, True]]


def test_repeated_seeds_are_refused(standin_id):
    with pytest.raises(LiquidControlError, match="repeated seeds"):
        run_episodes([make_env(standin_id)], ScriptedAgent(np.zeros((1, 2), np.float32)), [1, 1])


def test_torch_agent_batches_and_resets_rows():
    policy = Integrator(obs_dim=10, act_dim=2)
    agent = TorchPolicyAgent(policy)
    agent.reset(2)
    obs = np.ones((2, 10), np.float32)
    dt = np.full((2, 1), 0.05, np.float32)
    agent.act(obs, dt)
    np.testing.assert_allclose(agent.act(obs, dt), 2.0)
    agent.reset_done(np.array([True, False]))
    np.testing.assert_allclose(agent.act(obs, dt), [[1.0, 1.0], [3.0, 3.0]])
    assert torch.is_tensor(agent.state)


def test_torch_agent_reset_clears_a_diverged_state():
    # A state that blew up to NaN/inf must still restart at zero (0 * NaN would stay NaN and the
    # next episode in that slot would fail because of its neighbour, not its seed).
    agent = TorchPolicyAgent(Integrator(obs_dim=10, act_dim=2))
    agent.reset(2)
    agent.state = torch.tensor([[np.nan, np.inf], [1.0, 2.0]])
    agent.reset_done(np.array([True, False]))
    np.testing.assert_array_equal(agent.state.numpy(), [[0.0, 0.0], [1.0, 2.0]])


def test_evaluate_sweep_same_seeds_every_condition(standin_id, standin_expert):
    conditions = sweep_conditions(["friction", "action_delay"], [2, 5])
    assert [c.name for c in conditions] == ["clean", "friction@2", "friction@5", "action_delay@2", "action_delay@5"]
    res = evaluate(standin_expert, standin_id, conditions, n_episodes=4, seed=10, n_envs=2, progress=False)
    assert res.agent == "expert" and [len(c.episodes) for c in res.conditions] == [4] * 5
    assert all([e.seed for e in c.episodes] == [10, 11, 12, 13] for c in res.conditions)
    assert res.metrics("clean").success_rate == 1.0
    # Lower friction slows the stand-in car (gain x friction): parking takes longer.
    assert res.metrics("friction@5").time_to_success_s > res.metrics("clean").time_to_success_s
    curves = res.curves()
    assert curves["friction"]["severity"] == [0, 2, 5]
    assert 0.0 <= curves["action_delay"]["auc"] <= 1.0 and "worst_severity" in curves["action_delay"]
    # The task registered for the env id supplies the extra metrics; the expert ends near the origin.
    assert res.metrics("clean").extra["final_distance_m"] < 0.05


def test_bad_inputs(standin_id, standin_expert):
    with pytest.raises(LiquidControlError, match="unknown env id 'liquidcontrol/Nope-v0'"):
        make_env("liquidcontrol/Nope-v0")
    with pytest.raises(LiquidControlError, match="unknown perturbation 'hail'"):
        sweep_conditions(["hail"])
    with pytest.raises(LiquidControlError, match="severity must be an integer"):
        sweep_conditions(["rain"], [7])
    with pytest.raises(LiquidControlError, match="n_episodes must be a positive"):
        evaluate(standin_expert, standin_id, sweep_conditions([]), 0)
    bad = ScriptedAgent(np.zeros((1, 3), np.float32))
    bad.act = lambda obs, dt, active=None: np.zeros(2)
    with pytest.raises(LiquidControlError, match="returned actions of shape"):
        run_episodes([StandInParkingEnv()], bad, [0])
