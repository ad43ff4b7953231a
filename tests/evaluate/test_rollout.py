"""Lockstep rollouts, the on_step hook, agents and sweeps on the stand-in env."""

from __future__ import annotations

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
        self.actions, self.t, self.resets = actions, None, []

    def reset(self, n_envs):
        self.t = np.zeros(n_envs, dtype=int)

    def act(self, obs, dt):
        assert dt.shape == (obs.shape[0], 1) and np.allclose(dt, 0.05)
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


def test_scripted_trajectory_metrics(standin_id):
    # Drive +x for 10 steps at 0.5 m/s, then stop: 0.25 m path, one action change of 1.
    actions = np.array([[1.0, 0.0]] * 10 + [[0.0, 0.0]] * 10, dtype=np.float32)
    env = make_env(standin_id, max_steps=20)
    (rec,) = run_episodes([env], ScriptedAgent(actions), [3])
    assert rec.steps == 20 and rec.truncated and not rec.success
    assert rec.path_length_m == pytest.approx(0.25, abs=1e-6)
    assert rec.smoothness == pytest.approx(1.0 / 19 / 2)
    assert rec.duration_s == pytest.approx(1.0)


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


def test_nan_action_ends_episode_as_unstable(standin_id):
    agent = ScriptedAgent(np.array([[0.0, 0.0], [np.nan, 0.0]], np.float32))
    (rec,) = run_episodes([make_env(standin_id)], agent, [0])
    assert rec.unstable and not rec.success and rec.steps == 2


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


def test_evaluate_sweep_same_seeds_every_condition(standin_id, standin_expert):
    conditions = sweep_conditions(["friction", "action_delay"], [2, 5])
    assert [c.name for c in conditions] == ["clean", "friction@2", "friction@5", "action_delay@2", "action_delay@5"]
    res = evaluate(standin_expert, standin_id, conditions, n_episodes=4, seed=10, n_envs=2, progress=False)
    assert res.agent == "expert" and [len(c.episodes) for c in res.conditions] == [4] * 5
    assert all([e.seed for e in c.episodes] == [10, 11, 12, 13] for c in res.conditions)
    assert res.metrics("clean").success_rate == 1.0
    # Lower friction slows the stand-in car (gain x friction): parking takes longer.
    assert res.metrics("friction@5").time_to_park_s > res.metrics("clean").time_to_park_s
    curves = res.curves()
    assert curves["friction"]["severity"] == [0, 2, 5]
    assert 0.0 <= curves["action_delay"]["auc"] <= 1.0 and "worst_severity" in curves["action_delay"]


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
    bad.act = lambda obs, dt: np.zeros(2)
    with pytest.raises(LiquidControlError, match="returned actions of shape"):
        run_episodes([StandInParkingEnv()], bad, [0])
