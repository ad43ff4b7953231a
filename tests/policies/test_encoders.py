"""Dict-observation policies: parameter budgets include the conv head."""

from __future__ import annotations

import pytest
from liquidcontrol.policies.registry import make_policy

from liquidcontrol.errors import LiquidControlError


def test_budget_counts_the_conv_head_so_baselines_match_the_whole_model():
    spec = [{"key": "image", "dtype": "uint8", "shape": [64, 128, 3]}, {"key": "speed", "dtype": "float32", "shape": [1]}]
    ref = make_policy("cfc-ncp", 0, 1, units=19, obs_spec=spec).num_parameters()
    for kind in ("lstm", "gru", "mlp"):
        n = make_policy(kind, 0, 1, budget=ref, obs_spec=spec).num_parameters()
        assert abs(n - ref) / ref < 0.02, (kind, n, ref)
    with pytest.raises(LiquidControlError, match="does not cover the observation encoders"):
        make_policy("lstm", 0, 1, budget=1000, obs_spec=spec)


def test_camera_policy_rejects_wrong_image_dtype_and_size_in_one_sentence():
    import numpy as np

    spec = [{"key": "image", "dtype": "uint8", "shape": [64, 128, 3]}, {"key": "speed", "dtype": "float32", "shape": [1]}]
    policy = make_policy("cfc-ncp", 0, 1, units=19, obs_spec=spec)
    good = {"image": np.zeros((64, 128, 3), np.uint8), "speed": np.zeros(1, np.float32)}
    assert policy.predict(good)[0].shape == (1,)
    with pytest.raises(LiquidControlError, match=r"'image' must be a uint8 image of shape \[64, 128, 3\], got dtype float64"):
        policy.predict({**good, "image": np.zeros((64, 128, 3))})
    with pytest.raises(LiquidControlError, match=r"'image' has shape \[1, 32, 64, 3\]; expected"):
        policy.predict({**good, "image": np.zeros((32, 64, 3), np.uint8)})
