"""Shared helpers for export tests: random policies of every kind, a fake plant."""

from __future__ import annotations

import numpy as np
import torch
from liquidcontrol.policies.registry import make_policy

OBS_DIM, ACT_DIM = 6, 2
# (kind, extra constructor arguments): every registry kind, plus non-default CfC modes.
CASES = [
    ("cfc-ncp", {}),
    ("cfc-ncp", {"mode": "no_gate"}),
    ("cfc-ncp", {"mode": "pure"}),
    ("cfc", {}),
    ("cfc", {"mode": "no_gate"}),
    ("cfc", {"mode": "pure"}),
    ("ltc-ncp", {}),
    ("ltc", {}),
    ("lstm", {}),
    ("gru", {}),
    ("cfc-ncp", {"mixed_memory": True}),
    ("cfc", {"backbone_layers": 0}),
    ("ltc-ncp", {"mixed_memory": True}),
    ("mlp", {}),
    ("mlp", {"frame_stack": 3, "activation": "relu"}),
]
LIQUID = ("cfc-ncp", "cfc", "ltc-ncp", "ltc")


def case_id(case: tuple[str, dict]) -> str:
    kind, kw = case
    return kind + "".join(f"-{k}={v}" for k, v in kw.items())


def random_policy(kind: str, seed: int = 0, **kw: object) -> torch.nn.Module:
    """A policy with non-trivial normalisation and action map (so folding is exercised)."""
    torch.manual_seed(seed)
    size = {"units": 10, "seed": seed} if kind in LIQUID else {"hidden": 10}
    policy = make_policy(kind, OBS_DIM, ACT_DIM, **size, **kw)
    rng = np.random.default_rng(seed)
    policy.set_normalization(rng.normal(0.0, 0.5, OBS_DIM), rng.uniform(0.5, 2.0, OBS_DIM))
    with torch.no_grad():
        policy.action_scale.copy_(torch.tensor(rng.uniform(0.5, 2.0, ACT_DIM), dtype=torch.float32))
        policy.action_bias.copy_(torch.tensor(rng.normal(0.0, 0.2, ACT_DIM), dtype=torch.float32))
    return policy.eval()


class FakePlant:
    """A damped linear system driven by the action: the next observation
    depends on everything the policy did, so differences would compound."""

    def __init__(self, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.a = 0.9 * np.eye(OBS_DIM) + 0.05 * rng.standard_normal((OBS_DIM, OBS_DIM))
        self.b = 0.3 * rng.standard_normal((OBS_DIM, ACT_DIM))
        self.x = rng.standard_normal(OBS_DIM)
        self.dts = 0.05 * rng.uniform(0.5, 1.5, 1000)  # jittered measured periods, seconds

    def step(self, action: np.ndarray) -> np.ndarray:
        self.x = np.tanh(self.a @ self.x + self.b @ np.clip(action, -3.0, 3.0))
        return self.x.astype(np.float32)
