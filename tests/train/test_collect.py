"""collect_episodes: an episode's data depends only on its seed, and a learner that diverges
fails its episodes instead of crashing validation."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.evaluate.agents import load_torch_bundle
from liquidcontrol.seeds import training_seeds
from liquidcontrol.tasks import get_task
from liquidcontrol.train import dagger
from liquidcontrol.train.collect import collect_episodes

PRETRAINED = Path(__file__).resolve().parents[2] / "policies" / "pretrained" / "parking_cfc_ncp12"


@pytest.fixture(scope="module")
def task():
    return get_task("parking")


def test_noisy_demonstrations_depend_on_the_seed_not_the_slot(task):
    seeds = training_seeds(0, 0, 3)
    one, _ = collect_episodes(task, seeds, action_noise=[0.1, 0.0], n_envs=1, max_steps=60, progress=False)
    three, _ = collect_episodes(task, seeds, action_noise=[0.1, 0.0], n_envs=3, max_steps=60, progress=False)
    clean, _ = collect_episodes(task, seeds, action_noise=0.0, n_envs=3, max_steps=60, progress=False)
    assert one.meta["task"] == "parking" and one.meta["seeds"] == [seeds[0], seeds[-1]]
    for a, b, c in zip(one.episodes, three.episodes, clean.episodes):
        np.testing.assert_array_equal(a.obs, b.obs)
        np.testing.assert_array_equal(a.act, b.act)
        assert not np.array_equal(a.obs, c.obs)  # the noise did change what the car did


def test_a_diverging_learner_fails_validation_instead_of_crashing(task):
    policy = copy.deepcopy(load_torch_bundle(PRETRAINED))
    with torch.no_grad():
        next(policy.parameters()).fill_(float("nan"))  # every action is NaN
    assert dagger.validate(task, policy, 3, n_envs=2) == 0.0
    # DAgger still labels the states it visited (the expert's labels are finite).
    demos, stats = collect_episodes(task, training_seeds(0, 1, 2), policy=policy, beta=0.0, n_envs=2,
                                    progress=False)
    assert stats.successes == 0 and stats.steps == 2  # each episode ended on its first (NaN) step
    assert len(demos) == 2 and all(np.isfinite(e.act).all() for e in demos.episodes)


def test_bad_requests(task):
    with pytest.raises(LiquidControlError, match="at least one episode seed"):
        collect_episodes(task, [], progress=False)
    with pytest.raises(LiquidControlError, match="needs a policy"):
        collect_episodes(task, [1], label=False, progress=False)
