"""Policy behaviour for every model kind: sequences vs steps, resets, per-sample dt,
config round trips, a tiny fit, parameter budgets and user errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from liquidcontrol.policies import MODEL_KINDS, CfC, make_policy, policy_from_config, wirings
from liquidcontrol.policies.baselines import GRUPolicy, LSTMPolicy, MLPPolicy

from liquidcontrol.errors import LiquidControlError

OBS, ACT, BATCH, STEPS = 3, 2, 4, 12
VARIANTS = [(kind, {}) for kind in MODEL_KINDS] + [
    ("cfc-ncp", {"mode": "pure"}),
    ("cfc-ncp", {"mode": "no_gate", "mixed_memory": True}),
    ("cfc-ncp", {"mask_time_heads": True}),
    ("cfc", {"backbone_layers": 0}),
    ("ltc-ncp", {"mixed_memory": True}),
    ("mlp", {"frame_stack": 3}),
]


def _policy(kind: str, kwargs: dict):
    torch.manual_seed(0)
    policy = make_policy(kind, OBS, ACT, **kwargs)
    policy.set_normalization(np.array([0.1, -0.2, 0.3]), np.array([1.0, 2.0, 0.5]))
    return policy


def _stepwise(policy, obs, dt, starts):
    state, actions = policy.initial_state(obs.shape[0]), []
    for i in range(obs.shape[1]):
        state = state * (1.0 - starts[:, i : i + 1])
        action, state = policy(obs[:, i], state, dt[:, i : i + 1])
        actions.append(action)
    return torch.stack(actions, dim=1), state


@pytest.mark.parametrize(("kind", "kwargs"), VARIANTS)
def test_sequence_equals_steps_with_resets_and_per_sample_dt(kind: str, kwargs: dict) -> None:
    policy = _policy(kind, kwargs)
    torch.manual_seed(1)
    obs = torch.randn(BATCH, STEPS, OBS)
    dt = 0.05 * (0.5 + torch.rand(BATCH, STEPS))
    starts = torch.zeros(BATCH, STEPS)
    starts[:, 5], starts[1, 9], starts[2, 1] = 1.0, 1.0, 1.0
    seq_actions, seq_state = policy.forward_sequence(obs, dt=dt, episode_start=starts)
    step_actions, step_state = _stepwise(policy, obs, dt, starts)
    torch.testing.assert_close(seq_actions, step_actions, atol=2e-6, rtol=1e-5)
    torch.testing.assert_close(seq_state, step_state, atol=2e-6, rtol=1e-5)
    assert seq_state.shape == (BATCH, policy.state_dim) and policy.state_dim >= 1


@pytest.mark.parametrize(("kind", "kwargs"), VARIANTS)
def test_batched_per_sample_dt_equals_single_runs(kind: str, kwargs: dict) -> None:
    """ncps #81/#83: per-sample time steps must not mix across the batch."""
    policy = _policy(kind, kwargs)
    torch.manual_seed(2)
    obs = torch.randn(BATCH, STEPS, OBS)
    dt = 0.05 * (0.2 + 2 * torch.rand(BATCH, STEPS, 1))
    actions, state = policy.forward_sequence(obs, dt=dt)
    for b in range(BATCH):
        single_a, single_s = policy.forward_sequence(obs[b : b + 1], dt=dt[b : b + 1])
        torch.testing.assert_close(actions[b : b + 1], single_a, atol=2e-6, rtol=1e-5)
        torch.testing.assert_close(state[b : b + 1], single_s, atol=2e-6, rtol=1e-5)


@pytest.mark.parametrize(("kind", "kwargs"), VARIANTS)
def test_episode_start_equals_separate_episodes(kind: str, kwargs: dict) -> None:
    policy = _policy(kind, kwargs)
    torch.manual_seed(3)
    first, second = torch.randn(2, 7, OBS), torch.randn(2, 5, OBS)
    starts = torch.zeros(2, 12)
    starts[:, 7] = 1.0
    joined, final = policy.forward_sequence(torch.cat([first, second], 1), episode_start=starts)
    a1, _ = policy.forward_sequence(first)
    a2, s2 = policy.forward_sequence(second)
    torch.testing.assert_close(joined, torch.cat([a1, a2], 1), atol=2e-6, rtol=1e-5)
    torch.testing.assert_close(final, s2, atol=2e-6, rtol=1e-5)


def test_liquid_policies_depend_on_dt_and_baselines_do_not() -> None:
    obs = torch.randn(2, 6, OBS)
    for kind in MODEL_KINDS:
        policy = _policy(kind, {})
        slow, _ = policy.forward_sequence(obs, dt=0.05)
        fast, _ = policy.forward_sequence(obs, dt=0.2)
        changed = not torch.allclose(slow, fast)
        assert changed == kind.startswith(("cfc", "ltc")), kind


@pytest.mark.parametrize("kind", sorted(MODEL_KINDS))
def test_config_round_trip_rebuilds_same_function(kind: str) -> None:
    policy = _policy(kind, {"mixed_memory": True} if kind == "cfc" else {})
    config = json.loads(json.dumps(policy.config()))
    clone = policy_from_config(kind, config)
    clone.load_state_dict(policy.state_dict())
    obs = torch.randn(2, 5, OBS)
    torch.testing.assert_close(clone.forward_sequence(obs)[0], policy.forward_sequence(obs)[0])
    assert clone.kind == kind


@pytest.mark.parametrize("kind", sorted(MODEL_KINDS))
def test_every_kind_learns_a_tiny_fit(kind: str) -> None:
    policy = _policy(kind, {})
    torch.manual_seed(4)
    obs = torch.randn(8, 10, OBS)
    target = torch.tanh(obs[..., :ACT].cumsum(1) * 0.3)
    optimizer = torch.optim.Adam(policy.parameters(), lr=2e-2)
    losses = []
    for _ in range(15):
        actions, _ = policy.forward_sequence(obs)
        loss = torch.nn.functional.mse_loss(actions, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.9 * losses[0], losses


@pytest.mark.parametrize(("cls", "budget"), [(LSTMPolicy, 600), (LSTMPolicy, 2504),
                                             (GRUPolicy, 592), (GRUPolicy, 3432),
                                             (MLPPolicy, 2504), (MLPPolicy, 600)])
def test_budget_constructors_land_within_10_percent(cls, budget: int) -> None:
    policy = cls.for_budget(8, 2, budget)
    assert abs(policy.num_parameters() - budget) <= 0.1 * budget
    assert policy.num_parameters() == cls.count_parameters(8, 2, **{
        k: v for k, v in policy.config().items() if k in ("hidden", "layers", "frame_stack")})
    via_registry = make_policy(cls.kind, 8, 2, budget=budget)
    assert via_registry.num_parameters() == policy.num_parameters()


def test_reference_parameter_counts() -> None:
    """ncps 1.0.1: CfC on AutoNCP(12,2)/8 inputs = 592, AutoNCP(30,4)/16 = 3,432."""
    for units, out, inputs, expected in [(12, 2, 8, 592), (30, 4, 16, 3432)]:
        model = CfC(inputs, wirings.AutoNCP(units, out))
        assert sum(p.numel() for p in model.parameters()) == expected


def test_user_errors_are_one_clear_sentence() -> None:
    with pytest.raises(LiquidControlError, match="unknown model kind 'transformer'.*cfc-ncp"):
        make_policy("transformer", OBS, ACT)
    with pytest.raises(LiquidControlError, match="does not take \\['colour'\\]"):
        make_policy("lstm", OBS, ACT, colour="red")
    with pytest.raises(LiquidControlError, match="uses wiring 'autoncp'"):
        make_policy("cfc-ncp", OBS, ACT, wiring="fc")
    with pytest.raises(LiquidControlError, match="unknown CfC mode"):
        make_policy("cfc-ncp", OBS, ACT, mode="fast")
    with pytest.raises(LiquidControlError, match="budget"):
        make_policy("cfc-ncp", OBS, ACT, budget=500)
    with pytest.raises(LiquidControlError, match="below the smallest"):
        LSTMPolicy.for_budget(OBS, ACT, 5)
    policy = make_policy("cfc-ncp", OBS, ACT)
    with pytest.raises(LiquidControlError, match=f"shape \\[batch, time, {OBS}\\]"):
        policy.forward_sequence(torch.randn(2, 4, OBS + 1))
    bad = torch.randn(2, 4, OBS)
    bad[1, 2, 0] = float("nan")
    with pytest.raises(LiquidControlError, match="NaN"):
        policy.forward_sequence(bad)
    with pytest.raises(LiquidControlError, match="width 3"):
        policy.predict(np.zeros(5, dtype=np.float32))
    with pytest.raises(LiquidControlError, match="timespans"):
        CfC(OBS, 4)(torch.randn(2, 4, OBS), timespans=torch.ones(2, 3))


def test_predict_matches_forward_and_resets() -> None:
    policy = _policy("cfc-ncp", {})
    obs = np.random.default_rng(0).normal(size=(3, OBS)).astype(np.float32)
    action, state = policy.predict(obs)
    again, _ = policy.predict(obs, state=state, episode_start=np.ones(3))
    np.testing.assert_allclose(again, action, atol=1e-6)
    assert action.shape == (3, ACT) and state.shape == (3, policy.state_dim)
