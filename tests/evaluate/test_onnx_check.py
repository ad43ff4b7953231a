"""The ONNX check fails when it must: a shipped file with wrong weights is caught by its actions
even when torch and ONNX both fail every episode (so their outcomes agree on every seed)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.evaluate import CLEAN, evaluate, runtime_agent, torch_agent
from liquidcontrol.evaluate.onnx_check import (
    ACTION_TOLERANCE,
    failure_reason,
    max_action_delta,
    onnx_check,
    outcome_agreement,
)
from liquidcontrol.seeds import evaluation_seeds

onnx = pytest.importorskip("onnx")
numpy_helper = pytest.importorskip("onnx.numpy_helper")

PARKING = "liquidcontrol/Parking-v0"
EPISODES = 3
MAX_STEPS = 40  # 2 s: far too short to park, so every episode fails for both


@pytest.fixture(scope="module")
def policy():
    from liquidcontrol.train.model import build_policy, probe_env

    return build_policy("cfc-ncp", probe_env(PARKING), 12, seed=0).eval()


@pytest.fixture(scope="module")
def bundle(policy, tmp_path_factory):
    from liquidcontrol.export import save_bundle
    from liquidcontrol.export.layouts import env_card_fields

    folder = tmp_path_factory.mktemp("onnx_check") / "bundle"
    save_bundle(folder, policy, env_card_fields(PARKING), exporter="torchscript")
    return folder


@pytest.fixture(scope="module")
def broken(bundle, tmp_path_factory):
    """The same bundle with 0.1 added to the largest weight initializer of policy.onnx (and the
    manifest rewritten, as a buggy exporter would have written it: the file is self-consistent)."""
    from liquidcontrol.runtime.manifest import write_manifest

    folder = tmp_path_factory.mktemp("onnx_check_broken") / "bundle"
    shutil.copytree(bundle, folder)
    model = onnx.load(str(folder / "policy.onnx"))
    floats = [t for t in model.graph.initializer if t.data_type == onnx.TensorProto.FLOAT]
    weight = max(floats, key=lambda t: int(np.prod(t.dims)))
    assert int(np.prod(weight.dims)) > 1, "expected a weight matrix among the initializers"
    weight.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(weight) + np.float32(0.1), weight.name))
    onnx.save(model, str(folder / "policy.onnx"))
    write_manifest(folder)
    return folder


def _episodes(agent_factory):
    result = evaluate(agent_factory, PARKING, [CLEAN], EPISODES, seed=0, n_envs=EPISODES, max_steps=MAX_STEPS,
                      progress=False)
    return result.conditions[0].episodes


def _check(policy, folder):
    torch_eps, onnx_eps = _episodes(torch_agent(policy)), _episodes(runtime_agent(folder))
    delta, steps = max_action_delta(policy, folder, PARKING, evaluation_seeds(EPISODES), n_envs=EPISODES,
                                    max_steps=MAX_STEPS)
    return onnx_check(torch_eps, onnx_eps, delta, steps)


def test_intact_bundle_passes(policy, bundle):
    check = _check(policy, bundle)
    assert check["passed"], check
    assert check["steps_compared"] == EPISODES * MAX_STEPS
    assert check["max_abs_action_delta"] <= ACTION_TOLERANCE


def test_wrong_weights_fail_although_all_outcomes_agree(policy, broken):
    check = _check(policy, broken)
    assert check["torch_success"] == check["onnx_success"] == 0.0
    assert check["seed_agreement"] == 1.0  # outcomes alone would have passed
    assert check["max_abs_action_delta"] > ACTION_TOLERANCE
    assert check["passed"] is False
    assert "does not compute the policy" in failure_reason(check)


def test_outcome_disagreement_fails_and_seed_sets_must_match(policy, bundle):
    eps = _episodes(torch_agent(policy))
    flipped = [type(e)(**{**e.__dict__, "success": not e.success}) for e in eps]
    check = onnx_check(eps, flipped, max_delta=0.0, steps_compared=10)
    assert check["seed_agreement"] == 0.0 and check["passed"] is False
    assert onnx_check(eps, eps, max_delta=0.0, steps_compared=0)["passed"] is False  # nothing compared
    with pytest.raises(LiquidControlError, match="same seeds"):
        outcome_agreement(eps, eps[:-1])


def test_failure_reason_tells_a_wrong_file_from_a_marginal_policy(policy):
    """Matching actions with flipped outcomes blame the policy's margins only when torch disagrees
    with itself under rounding-sized noise as well."""
    from liquidcontrol.evaluate.onnx_check import needs_jitter_baseline

    eps = _episodes(torch_agent(policy))
    one_flipped = [type(e)(**{**e.__dict__, "success": not e.success}) if i == 0 else e for i, e in enumerate(eps)]
    outcomes_only = onnx_check(eps, one_flipped, max_delta=5e-7, steps_compared=10)
    assert outcomes_only["passed"] is False and needs_jitter_baseline(outcomes_only)
    reason = failure_reason(outcomes_only)  # no baseline measured: no verdict on whose fault it is
    assert f"differs on 1 of {EPISODES} seeds" in reason and "5e-07" in reason
    assert "marginal" not in reason and "exported file" not in reason
    marginal = failure_reason({**outcomes_only, "torch_jitter_agreement": 0.5})
    assert "agrees on 0.500" in marginal and "not mis-exported" in marginal
    steady = failure_reason({**outcomes_only, "torch_jitter_agreement": 1.0})
    assert "agrees on 1.000" in steady and "come from the exported file" in steady and "marginal" not in steady
    # quantised-size differences within their tolerance: the 1e-6 baseline says nothing about them
    int8 = onnx_check(eps, one_flipped, max_delta=0.8, steps_compared=10, action_tolerance=1.0)
    assert int8["passed"] is False and not needs_jitter_baseline(int8)
    assert not needs_jitter_baseline(onnx_check(eps, eps, max_delta=5e-7, steps_compared=10))  # passed
    wrong = onnx_check(eps, eps, max_delta=float("inf"), steps_compared=10)
    assert not needs_jitter_baseline(wrong)
    assert "non-finite" in failure_reason(wrong) and "does not compute the policy" in failure_reason(wrong)
    assert failure_reason(onnx_check(eps, eps, max_delta=0.0, steps_compared=0)) == "no steps were compared"


def test_an_outcome_only_failure_measures_torch_against_itself(policy, bundle):
    from liquidcontrol.evaluate.onnx_check import JITTER, _JitterAgent, check_bundle
    from liquidcontrol.tasks import get_task

    task = get_task("parking")
    passed = check_bundle(policy, bundle, task, 2, n_envs=2)
    assert passed["passed"] and "torch_jitter_agreement" not in passed  # only a failure pays for the baseline
    strict = check_bundle(policy, bundle, task, 2, n_envs=2, min_agreement=1.01)  # no agreement can pass
    assert strict["passed"] is False and strict["max_abs_action_delta"] <= ACTION_TOLERANCE
    # the untrained policy fails both seeds with and without the noise; 1.0 is below the 1.01 bar
    assert strict["torch_jitter_agreement"] == 1.0 and strict["torch_success"] == 0.0
    assert "against itself" in failure_reason(strict) and "not mis-exported" in failure_reason(strict)
    # the baseline's noise is rounding-sized and really there
    obs = np.zeros((2, policy.obs_dim), np.float32)
    dt = np.full(2, 0.05, np.float32)
    plain, jitter = torch_agent(policy)(None), _JitterAgent(policy)
    plain.reset(2), jitter.reset(2)
    delta = np.abs(plain.act(obs, dt) - jitter.act(obs, dt))
    assert 0.0 < delta.max() <= 1.5 * JITTER


def test_the_main_job_check_adds_the_baseline_only_on_an_outcome_only_failure(policy, bundle, monkeypatch):
    import liquidcontrol.evaluate.onnx_check as oc
    from liquidcontrol.main_job import EVAL_FIRST_SEED, MainConfig, _onnx_check
    from liquidcontrol.tasks import get_task

    task = get_task("parking")
    clean = [evaluate(agent, PARKING, [CLEAN], 2, EVAL_FIRST_SEED, n_envs=2, progress=False, task=task)
             for agent in (torch_agent(policy), runtime_agent(bundle))]
    cfg = MainConfig(eval_episodes=2, n_envs=2, progress=False)
    passed = _onnx_check(cfg, task, policy, bundle, clean)
    assert passed["passed"] and "torch_jitter_agreement" not in passed
    real = oc.onnx_check
    monkeypatch.setattr(oc, "onnx_check", lambda *a, **k: real(*a, **{**k, "min_agreement": 1.01}))
    strict = _onnx_check(cfg, task, policy, bundle, clean)
    assert strict["passed"] is False and strict["torch_jitter_agreement"] == 1.0
