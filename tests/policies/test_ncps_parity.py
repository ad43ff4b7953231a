"""Numbers, not shapes: our CfC / LTC against ncps 1.0.1 on the same random weights.

Outputs and final states over 50 steps within 1e-5, parameter gradients
within 1e-4 (float64, so only the algorithms are compared).
"""

from __future__ import annotations

import copy

import pytest
import torch
from liquidcontrol.policies import ncps_convert, wirings

nt = pytest.importorskip("ncps.torch")
nw = pytest.importorskip("ncps.wirings")

STEPS, BATCH, INPUTS = 50, 3, 5


def _ref_cfc(kind: str, mode: str, mixed: bool = False):
    if kind == "wired":
        return nt.CfC(INPUTS, nw.AutoNCP(12, 2), mode=mode, mixed_memory=mixed)
    if kind == "backbone":
        return nt.CfC(INPUTS, 8, mode=mode, backbone_units=16, backbone_layers=2,
                      mixed_memory=mixed, proj_size=3)
    return nt.CfC(INPUTS, 8, mode=mode, backbone_layers=0, mixed_memory=mixed)


def _run(model, x, timespans=None):
    # ncps creates float32 zero states itself; pass float64 ones explicitly
    size = model.state_size
    zeros = torch.zeros(x.shape[0], size, dtype=x.dtype)
    hx = (zeros, zeros.clone()) if model.use_mixed else zeros
    y, h = model(x, hx, timespans=timespans)
    return y, torch.cat(h, 1) if isinstance(h, tuple) else h


def _grad_model(ref, converter):
    """Our model holding ncps' gradients as weights (same layout mapping)."""
    holder = copy.deepcopy(ref)
    for p, source in zip(holder.parameters(), ref.parameters()):
        if source.requires_grad:  # frozen ones are the wiring masks: keep them
            p.data = source.grad.clone()
    return converter(holder)


def _compare(ref, ours, converter, x, timespans=None) -> None:
    y_ref, h_ref = _run(ref, x, timespans)
    ours_state = (torch.zeros(x.shape[0], ours.flat_state_size, dtype=x.dtype))
    from liquidcontrol.policies.cfc import timespans_tensor

    y, h = ours.sequence(x, ours_state, timespans_tensor(timespans, *x.shape[:2], x))
    torch.testing.assert_close(y, y_ref, atol=1e-5, rtol=0)
    torch.testing.assert_close(h, h_ref, atol=1e-5, rtol=0)
    weights = torch.randn_like(y_ref)
    ((y_ref * weights).sum() + h_ref.pow(2).sum()).backward()
    ((y * weights).sum() + h.pow(2).sum()).backward()
    expected = dict(_grad_model(ref, converter).named_parameters())
    for name, p in ours.named_parameters():
        torch.testing.assert_close(p.grad, expected[name], atol=1e-4, rtol=0, msg=name)


@pytest.mark.parametrize("mode", ["default", "no_gate", "pure"])
@pytest.mark.parametrize("kind", ["wired", "backbone", "plain"])
def test_cfc_matches_ncps(kind: str, mode: str) -> None:
    torch.manual_seed(0)
    ref = _ref_cfc(kind, mode).double()
    ours = ncps_convert.cfc_from_ncps(ref)
    x = torch.randn(BATCH, STEPS, INPUTS, dtype=torch.float64)
    _compare(ref, ours, ncps_convert.cfc_from_ncps, x)


@pytest.mark.parametrize("kind", ["wired", "backbone"])
def test_cfc_mixed_memory_and_timespans_match_ncps(kind: str) -> None:
    torch.manual_seed(1)
    ref = _ref_cfc(kind, "default", mixed=True).double()
    ours = ncps_convert.cfc_from_ncps(ref)
    # batch 1: the only batch size at which ncps handles per-step time spans correctly
    x = torch.randn(1, STEPS, INPUTS, dtype=torch.float64)
    ts = torch.rand(1, STEPS, 1, dtype=torch.float64) * 2 + 0.05
    _compare(ref, ours, ncps_convert.cfc_from_ncps, x, ts)


def test_float32_wired_cfc_within_1e5() -> None:
    torch.manual_seed(2)
    ref = nt.CfC(32, nw.AutoNCP(19, 1))
    ours = ncps_convert.cfc_from_ncps(ref)
    x = torch.randn(4, STEPS, 32)
    y_ref, h_ref = ref(x)
    y, h = ours(x)
    torch.testing.assert_close(y, y_ref, atol=1e-5, rtol=0)
    torch.testing.assert_close(h, h_ref, atol=1e-5, rtol=0)
    assert sum(p.numel() for p in ours.parameters() if p.requires_grad) == 2504


def test_built_from_our_wiring_equals_converted() -> None:
    torch.manual_seed(3)
    ref = nt.CfC(INPUTS, nw.AutoNCP(12, 2, seed=5))
    from liquidcontrol.policies import CfC

    ours = CfC(INPUTS, wirings.AutoNCP(12, 2, seed=5))
    ncps_convert.load_ncps_cfc(ours, ref)  # raises if the wiring masks differ
    x = torch.randn(2, 10, INPUTS)
    torch.testing.assert_close(ours(x)[0], ref(x)[0], atol=1e-6, rtol=0)


@pytest.mark.parametrize("mixed", [False, True])
def test_wired_ltc_matches_ncps(mixed: bool) -> None:
    torch.manual_seed(4)
    ref = nt.LTC(INPUTS, nw.AutoNCP(12, 2), mixed_memory=mixed).double()
    ours = ncps_convert.ltc_from_ncps(ref)
    x = torch.randn(BATCH, STEPS, INPUTS, dtype=torch.float64)
    _compare(ref, ours, ncps_convert.ltc_from_ncps, x)


def test_fully_connected_ltc_with_timespans_matches_ncps() -> None:
    torch.manual_seed(5)
    ref = nt.LTC(INPUTS, 6).double()
    ours = ncps_convert.ltc_from_ncps(ref)
    x = torch.randn(1, 20, INPUTS, dtype=torch.float64)
    ts = torch.rand(1, 20, 1, dtype=torch.float64) + 0.5
    _compare(ref, ours, ncps_convert.ltc_from_ncps, x, ts)
