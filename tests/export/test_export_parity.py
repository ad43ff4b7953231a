"""torch vs onnxruntime vs numpy: same actions and states over a 200-step closed loop."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from export_helpers import CASES, FakePlant, case_id, random_policy

from liquidcontrol.export import save_bundle
from liquidcontrol.runtime import PolicyRunner

STEPS, TOL = 200, 1e-5


def torch_loop(policy: torch.nn.Module, plant: FakePlant) -> tuple[np.ndarray, np.ndarray]:
    """Actions [STEPS, act_dim] and states [STEPS, state_dim] with the state fed back."""
    obs, state, actions, states = plant.step(np.zeros(2)), policy.initial_state(1), [], []
    with torch.no_grad():
        for i in range(STEPS):
            dt = torch.tensor([[plant.dts[i]]], dtype=torch.float32)
            action, state = policy(torch.from_numpy(obs[None]), state, dt)
            actions.append(action.numpy()[0])
            states.append(state.numpy()[0])
            obs = plant.step(actions[-1])
    return np.array(actions), np.array(states)


def runner_loop(runner: PolicyRunner, plant: FakePlant) -> tuple[np.ndarray, np.ndarray]:
    obs, actions, states = plant.step(np.zeros(2)), [], []
    runner.reset()
    for i in range(STEPS):
        actions.append(runner.step(obs, dt=float(np.float32(plant.dts[i]))))
        states.append(runner.state[0])
        obs = plant.step(actions[-1])
    return np.array(actions), np.array(states)


# The dynamo exporter (the default) takes 1-5 s per model: every kind runs
# with the fast torchscript tracer, a representative subset with dynamo, and
# the full dynamo matrix under -m slow.
DYNAMO_QUICK = {"cfc-ncp", "ltc-ncp", "gru", "mlp-frame_stack=3-activation=relu"}
PARAMS = [pytest.param(case, "torchscript", id=f"{case_id(case)}-torchscript") for case in CASES] + [
    pytest.param(case, "dynamo", id=f"{case_id(case)}-dynamo",
                 marks=() if case_id(case) in DYNAMO_QUICK else pytest.mark.slow)
    for case in CASES
]


@pytest.mark.parametrize("case, exporter", PARAMS)
def test_closed_loop_parity(case: tuple[str, dict], exporter: str, tmp_path) -> None:
    kind, kw = case
    policy = random_policy(kind, **kw)
    save_bundle(tmp_path, policy, {"env_id": "test/Fake-v0"}, exporter=exporter)
    ref_a, ref_s = torch_loop(policy, FakePlant())
    assert np.abs(ref_a).max() > 1e-3, "degenerate policy: actions are all zero"
    for backend in ("onnxruntime", "numpy"):
        act, st = runner_loop(PolicyRunner(tmp_path, backend=backend), FakePlant())
        assert np.abs(act - ref_a).max() <= TOL, f"{backend} actions differ"
        assert np.abs(st - ref_s).max() <= TOL, f"{backend} states differ"


@pytest.mark.parametrize("case", [("cfc-ncp", {}), ("cfc", {}), ("cfc-ncp", {"mode": "pure"}),
                                  ("ltc-ncp", {}), ("lstm", {}), ("mlp", {"frame_stack": 2})], ids=case_id)
def test_batch_with_per_sample_dt(case: tuple[str, dict], tmp_path) -> None:
    """Batch 3 with a different dt per sample matches torch on both backends."""
    kind, kw = case
    policy = random_policy(kind, seed=1, **kw)
    save_bundle(tmp_path, policy, {"env_id": "test/Fake-v0"}, exporter="torchscript")
    rng = np.random.default_rng(3)
    obs = rng.standard_normal((4, 3, 6)).astype(np.float32)
    dts = rng.uniform(0.01, 0.2, (4, 3, 1)).astype(np.float32)
    state = policy.initial_state(3)
    runners = [PolicyRunner(tmp_path, backend=b) for b in ("onnxruntime", "numpy")]
    for t in range(4):
        with torch.no_grad():
            ref, state = policy(torch.from_numpy(obs[t]), state, torch.from_numpy(dts[t]))
        for runner in runners:
            assert np.abs(runner.step(obs[t], dt=dts[t]) - ref.numpy()).max() <= TOL
            assert np.abs(runner.state - state.numpy()).max() <= TOL


def test_default_dt_is_the_control_period(tmp_path) -> None:
    policy = random_policy("cfc-ncp")
    card = save_bundle(tmp_path, policy, {"env_id": "test/Fake-v0"}, exporter="torchscript")
    for backend in ("onnxruntime", "numpy"):
        a, b = PolicyRunner(tmp_path, backend), PolicyRunner(tmp_path, backend)
        obs = np.ones(6, dtype=np.float32)
        np.testing.assert_allclose(a.step(obs), b.step(obs, dt=card.control_period_s), atol=1e-7)


def test_reset_restarts_from_zero_state(tmp_path) -> None:
    save_bundle(tmp_path, random_policy("gru"), {"env_id": "test/Fake-v0"}, exporter="torchscript")
    runner = PolicyRunner(tmp_path, backend="numpy")
    obs = np.full(6, 0.5, dtype=np.float32)
    first = runner.step(obs)
    runner.step(obs)
    assert np.abs(runner.state).max() > 0
    runner.reset()
    np.testing.assert_array_equal(runner.state, np.zeros((1, runner.card.state_dim), np.float32))
    np.testing.assert_allclose(runner.step(obs), first, atol=1e-7)
