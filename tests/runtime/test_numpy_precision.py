"""Real sensor statistics: channels that barely vary (std clamped near 1e-3)
and offsets far from zero. Folding ``(obs - mean) / std`` into the first
layer then creates large terms that cancel; the numpy backend must still
match a float64 reference to 1e-5 (float32 folding missed by 4e-5..2e-3)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from liquidcontrol.policies.registry import make_policy

from liquidcontrol.export import save_bundle
from liquidcontrol.runtime import PolicyRunner

OBS_DIM = 8
MEAN = np.array([2.0, 1.98, 0.999, 0.0, 0.3, -1.5, 0.0, 2.0])
STD = np.array([1e-3, 0.02, 0.003, 0.5, 0.1, 2.0, 1.0, 0.01])


@pytest.mark.parametrize("kind", ["cfc-ncp", "cfc", "ltc-ncp", "lstm", "mlp"])
def test_numpy_backend_matches_float64_with_extreme_normalisation(tmp_path, kind):
    torch.manual_seed(0)
    size = {"units": 10} if kind in ("cfc-ncp", "cfc", "ltc-ncp") else {"hidden": 10}
    policy = make_policy(kind, OBS_DIM, 2, **size)
    policy.set_normalization(MEAN, STD)
    policy.eval()
    save_bundle(tmp_path, policy, {"env_id": "test/Precision-v0"}, exporter="torchscript")
    runner = PolicyRunner(tmp_path, backend="numpy")
    reference = policy.double()
    state = reference.initial_state(1).double()
    rng = np.random.default_rng(0)
    worst = 0.0
    for _ in range(200):
        obs = (MEAN + STD * rng.standard_normal(OBS_DIM) * 3).astype(np.float32)  # excursions of 3 std
        action = runner.step(obs)
        with torch.no_grad():
            expected, state = reference(torch.as_tensor(obs[None], dtype=torch.float64), state,
                                        torch.full((1, 1), 0.05, dtype=torch.float64))
        worst = max(worst, float(np.abs(action - expected.numpy()[0]).max()))
    assert worst <= 1e-5
