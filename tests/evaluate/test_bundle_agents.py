"""Torch and runtime (onnxruntime, numpy) agents on one saved bundle give the same actions."""

from __future__ import annotations

import liquidcontrol.policies.registry as registry
import numpy as np
import pytest

import liquidcontrol.export as export
from liquidcontrol.evaluate import RuntimeAgent, TorchPolicyAgent
from liquidcontrol.evaluate.agents import load_torch_bundle


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    import torch

    torch.manual_seed(0)
    policy = registry.make_policy("lstm", obs_dim=10, act_dim=2)
    folder = tmp_path_factory.mktemp("bundle")
    export.save_bundle(folder, policy, {"env_id": "liquidcontrol-test/StandIn-v0"})
    return folder


def test_torch_onnx_numpy_agents_agree_with_row_resets(bundle):
    agents = [TorchPolicyAgent(load_torch_bundle(bundle)), RuntimeAgent(bundle, "onnxruntime"), RuntimeAgent(bundle, "numpy")]
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(6, 3, 10)).astype(np.float32)
    dt = np.full((3, 1), 0.05, np.float32)
    outs = []
    for agent in agents:
        agent.reset(3)
        acts = []
        for t in range(6):
            if t == 3:
                agent.reset_done(np.array([False, True, False]))
            acts.append(agent.act(obs[t], dt))
        outs.append(np.array(acts))
    np.testing.assert_allclose(outs[1], outs[0], atol=1e-5)
    np.testing.assert_allclose(outs[2], outs[0], atol=1e-5)
    # Row 1 restarted at step 3 with zero state: equal to a fresh run of its last 3 observations.
    fresh = agents[1]
    fresh.reset(1)
    np.testing.assert_allclose([fresh.act(obs[t, 1:2], dt[:1])[0] for t in range(3, 6)], outs[1][3:, 1], atol=1e-6)
