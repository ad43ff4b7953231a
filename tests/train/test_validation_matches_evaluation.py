"""Training's rollouts (validation, demonstrations) and evaluation run the same loop: the same
agent on the same seeds gives the same outcome and length per seed through both paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from liquidcontrol.evaluate import CLEAN, evaluate, expert_agent, torch_agent
from liquidcontrol.evaluate.agents import load_torch_bundle
from liquidcontrol.seeds import evaluation_seeds
from liquidcontrol.tasks import get_task
from liquidcontrol.train import dagger
from liquidcontrol.train.collect import collect_episodes

SEEDS = 8
PRETRAINED = Path(__file__).resolve().parents[2] / "policies" / "pretrained" / "parking_cfc_ncp12"


@pytest.fixture(scope="module")
def task():
    return get_task("parking")


@pytest.fixture(scope="module")
def policy():
    # The shipped 12-neuron CfC parks every seed here, in 136-257 steps: a step cap in between
    # splits the seeds into successes and failures.
    return load_torch_bundle(PRETRAINED)


def _evaluated(agent_factory, task, max_steps=None):
    result = evaluate(agent_factory, task.env_id, [CLEAN], SEEDS, seed=0, n_envs=3, progress=False,
                      max_steps=max_steps, task=task)
    episodes = result.conditions[0].episodes
    assert [e.seed for e in episodes] == evaluation_seeds(SEEDS)
    return [(e.success, e.steps) for e in episodes]


def test_dagger_validate_and_evaluate_agree_per_seed(task, policy, monkeypatch):
    # dagger.validate itself, pointed at the evaluation seeds (evaluate only plays those);
    # the spy keeps what collect_episodes returned: per-seed outcomes and episode lengths.
    seen = {}

    def spy(*args, **kwargs):
        seen["seeds"] = list(args[1])
        seen["demos"], seen["stats"] = collect_episodes(*args, **kwargs)
        return seen["demos"], seen["stats"]

    monkeypatch.setattr(dagger, "validation_seeds", evaluation_seeds)
    monkeypatch.setattr(dagger, "collect_episodes", spy)
    rate = dagger.validate(task, policy, SEEDS, n_envs=4)
    assert seen["seeds"] == evaluation_seeds(SEEDS)
    validated = list(zip(seen["stats"].outcomes, [len(e) for e in seen["demos"].episodes]))
    assert validated == _evaluated(torch_agent(policy), task)  # different widths (4 vs 3 envs), same results
    assert rate == pytest.approx(sum(s for s, _ in validated) / SEEDS)


def test_truncated_rollouts_agree_with_mixed_outcomes(task, policy):
    cap = 200
    _, stats = collect_episodes(task, evaluation_seeds(SEEDS), policy=policy, label=False, n_envs=2,
                                max_steps=cap, progress=False)
    evaluated = _evaluated(torch_agent(policy), task, max_steps=cap)
    assert stats.outcomes == [s for s, _ in evaluated]
    assert 0 < sum(stats.outcomes) < SEEDS  # some seeds park within the cap, some do not
    assert all(steps <= cap for _, steps in evaluated)
    assert stats.steps == sum(steps for _, steps in evaluated)


def test_expert_demonstrations_and_expert_evaluation_agree(task):
    cap = 180
    demos, stats = collect_episodes(task, evaluation_seeds(SEEDS), n_envs=4, max_steps=cap, progress=False)
    evaluated = _evaluated(expert_agent(task.make_expert), task, max_steps=cap)
    assert list(zip(stats.outcomes, [len(e) for e in demos.episodes])) == evaluated
    assert 0 < sum(stats.outcomes) < SEEDS
