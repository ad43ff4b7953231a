"""Observation clipping: torch clamps (obs - mean) / std to +-NORM_CLIP; the numpy
backend clips the raw observation to [mean - 10 std, mean + 10 std] before the
folded first layer. Far outliers must give the same actions and states in torch,
onnxruntime and numpy, for every model kind."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from liquidcontrol.policies.base import NORM_CLIP
from liquidcontrol.policies.registry import make_policy

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.export import save_bundle
from liquidcontrol.runtime import PolicyRunner

OBS_DIM, ACT_DIM, TOL = 6, 2, 1e-5
# LTC sensory synapses are sigmoids of the input: saturated well before 5 sigma.
SATURATING = ("ltc-ncp", "ltc")
CASES = [("cfc-ncp", {}), ("cfc", {}), ("ltc-ncp", {}), ("ltc", {}), ("lstm", {}), ("gru", {}), ("mlp", {}),
         ("mlp", {"frame_stack": 3}), ("cfc-ncp", {"mode": "pure"})]


def _policy(kind: str, **kw):
    torch.manual_seed(0)
    size = {"units": 10, "seed": 0} if kind in ("cfc-ncp", "cfc", "ltc-ncp", "ltc") else {"hidden": 10}
    policy = make_policy(kind, OBS_DIM, ACT_DIM, **size, **kw)
    rng = np.random.default_rng(0)
    policy.set_normalization(rng.normal(0.0, 2.0, OBS_DIM), rng.uniform(0.01, 2.0, OBS_DIM))
    with torch.no_grad():
        policy.action_bias.copy_(torch.tensor(rng.normal(0.0, 0.2, ACT_DIM), dtype=torch.float32))
    return policy.eval()


def _outliers(policy, steps: int) -> np.ndarray:
    """Observations [steps, OBS_DIM]: some channels 1e6 sigma out (either side), others normal."""
    mean, std = policy.obs_mean.numpy().astype(np.float64), policy.obs_std.numpy().astype(np.float64)
    rng = np.random.default_rng(1)
    z = rng.standard_normal((steps, OBS_DIM))
    far = rng.random((steps, OBS_DIM)) < 0.5
    z[far] = np.sign(z[far]) * 1e6
    z[0, :] = 1e6  # every channel out on the first step
    return (mean + z * std).astype(np.float32)


@pytest.fixture(scope="module", params=CASES, ids=lambda c: c[0] + "".join(f"-{k}={v}" for k, v in c[1].items()))
def exported(request, tmp_path_factory):
    kind, kw = request.param
    policy = _policy(kind, **kw)
    folder = tmp_path_factory.mktemp("clip") / "bundle"
    save_bundle(folder, policy, {"env_id": "test/Clip-v0"}, exporter="torchscript")
    return policy, folder


def test_far_outliers_agree_in_torch_onnx_and_numpy(exported) -> None:
    policy, folder = exported
    obs = _outliers(policy, 12)
    dts = np.random.default_rng(2).uniform(0.03, 0.08, 12).astype(np.float32)
    state = policy.initial_state(1)
    runners = {b: PolicyRunner(folder, backend=b) for b in ("onnxruntime", "numpy")}
    for t in range(len(obs)):
        with torch.no_grad():
            ref, state = policy(torch.from_numpy(obs[t][None]), state, torch.tensor([[dts[t]]]))
        assert np.isfinite(ref.numpy()).all()
        for backend, runner in runners.items():
            action = runner.step(obs[t], dt=float(dts[t]))
            assert np.abs(action - ref.numpy()[0]).max() <= TOL, f"{backend} action differs at step {t}"
            assert np.abs(runner.state - state.numpy()).max() <= TOL, f"{backend} state differs at step {t}"
    # The batch path clips too.
    batch = obs[:4]
    with torch.no_grad():
        ref, _ = policy(torch.from_numpy(batch), policy.initial_state(4), torch.full((4, 1), 0.05))
    for runner in runners.values():
        runner.reset()
        assert np.abs(runner.step(batch) - ref.numpy()).max() <= TOL


def test_outliers_beyond_the_clip_all_act_like_the_clip_bound(exported) -> None:
    policy, folder = exported
    mean, std = policy.obs_mean.numpy().astype(np.float64), policy.obs_std.numpy().astype(np.float64)
    runner = PolicyRunner(folder, backend="numpy")
    actions = []
    for sigmas in (NORM_CLIP * 1.001, 1e3, 1e6):
        runner.reset()
        actions.append(runner.step((mean + sigmas * std).astype(np.float32)))
    np.testing.assert_allclose(actions[0], actions[1], atol=1e-5)
    np.testing.assert_allclose(actions[1], actions[2], atol=1e-12)
    if policy.kind not in SATURATING:
        runner.reset()
        inside = runner.step((mean + 5.0 * std).astype(np.float32))
        assert np.abs(inside - actions[2]).max() > 1e-4, "the clip bound should not act like 5 sigma"


def _rewrite_npz(folder, edit) -> None:
    with np.load(folder / "weights.npz", allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    program = json.loads(str(arrays["__program__"]))
    edit(arrays, program)
    arrays["__program__"] = np.array(json.dumps(program))
    np.savez(folder / "weights.npz", **arrays)
    (folder / "manifest.json").unlink(missing_ok=True)


def test_weights_store_the_bounds(exported) -> None:
    policy, folder = exported
    with np.load(folder / "weights.npz", allow_pickle=False) as data:
        program = json.loads(str(data["__program__"]))
        lo, hi = data["input.lo"], data["input.hi"]
    mean, std = policy.obs_mean.double().numpy(), policy.obs_std.double().numpy()
    assert program["input_clip"] is True and program["format_version"] == 2
    np.testing.assert_allclose(lo, mean - NORM_CLIP * std, rtol=0, atol=1e-12)
    np.testing.assert_allclose(hi, mean + NORM_CLIP * std, rtol=0, atol=1e-12)


def test_old_weights_without_bounds_still_load_unclipped(exported, tmp_path) -> None:
    import shutil

    policy, folder = exported
    old = shutil.copytree(folder, tmp_path / "old")

    def to_v1(arrays, program):
        del arrays["input.lo"], arrays["input.hi"]
        del program["input_clip"]
        program["format_version"] = 1

    _rewrite_npz(old, to_v1)
    runner, new = PolicyRunner(old, backend="numpy"), PolicyRunner(folder, backend="numpy")
    normal = policy.obs_mean.numpy() + 0.5 * policy.obs_std.numpy()
    np.testing.assert_allclose(runner.step(normal), new.step(normal), atol=1e-12)
    runner.reset()
    new.reset()
    far = _outliers(policy, 1)[0]
    if policy.kind not in SATURATING:
        assert np.abs(runner.step(far) - new.step(far)).max() > 1e-4  # no clip in the old file


@pytest.mark.parametrize("damage", ["no_arrays", "wrong_width", "lo_above_hi"])
def test_malformed_bounds_are_refused(exported, tmp_path, damage) -> None:
    import shutil

    _, folder = exported
    bad = shutil.copytree(folder, tmp_path / "bad")

    def edit(arrays, program):
        if damage == "no_arrays":
            del arrays["input.hi"]
        elif damage == "wrong_width":
            arrays["input.lo"] = arrays["input.lo"][:-1]
        else:
            arrays["input.lo"], arrays["input.hi"] = arrays["input.hi"], arrays["input.lo"]

    _rewrite_npz(bad, edit)
    with pytest.raises(LiquidControlError, match="clip bounds are missing or malformed"):
        PolicyRunner(bad, backend="numpy")
