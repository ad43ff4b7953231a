"""Saliency and neuron traces of camera policies (VisualBackprop), and that vector policies get none."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from liquidcontrol.policies.encoders import ConvHead
from liquidcontrol.policies.registry import make_policy

from liquidcontrol.evaluate.interpret import (
    _layer_bounds,
    has_conv_head,
    visual_backprop,
    write_interpretation,
)


def test_visual_backprop_finds_the_only_textured_region():
    torch.manual_seed(0)
    head = ConvHead(32, 64)
    with torch.no_grad():  # every filter responds to bright texture
        for layer in head.convs:
            if isinstance(layer, torch.nn.Conv2d):
                layer.weight.abs_()
                layer.bias.zero_()
    img = np.zeros((2, 32, 64, 3), np.uint8)
    rng = np.random.default_rng(0)
    img[0, 4:16, 40:60] = rng.integers(0, 255, (12, 20, 3))  # texture top right
    img[1, 20:30, 2:20] = rng.integers(0, 255, (10, 18, 3))  # texture bottom left
    sal = visual_backprop(head, img)
    assert sal.shape == (2, 32, 64) and sal.min() >= 0.0 and sal.max() == pytest.approx(1.0)
    inside0, outside0 = sal[0, 4:16, 40:60].mean(), sal[0, 20:, :30].mean()
    inside1, outside1 = sal[1, 20:30, 2:20].mean(), sal[1, :16, 34:].mean()
    assert inside0 > 5 * outside0 and inside1 > 5 * outside1


def test_vector_policies_have_no_saliency(tmp_path):
    policy = make_policy("cfc-ncp", 6, 1, units=8)
    assert not has_conv_head(policy)
    from liquidcontrol.tasks import get_task

    assert write_interpretation(policy, get_task("driving_state"), tmp_path) is None
    assert not list(tmp_path.iterdir())


def test_layer_bounds_of_a_wired_cfc():
    policy = make_policy("cfc-ncp", 6, 1, units=19)
    bounds = _layer_bounds(policy)
    assert len(bounds) == 2 and 0 < bounds[0] < bounds[1] < 19 and 19 - bounds[1] == 1  # one motor neuron
    assert _layer_bounds(make_policy("lstm", 6, 1, hidden=8)) == []
