"""Property-based tests (hypothesis): whatever a robot or a damaged bundle throws at the
runtime, the answer is a finite action of the right shape or one LiquidControlError,
and the kept state is always finite."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.runtime import PolicyRunner, load_card
from liquidcontrol.runtime.manifest import write_manifest

# Overflowing casts of absurd inputs warn before they are refused; that is expected here.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")
OBS_DIM, ACT_DIM = 3, 2
BACKENDS = ("onnxruntime", "numpy")
SETTINGS = settings(max_examples=1000, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    from liquidcontrol.policies.registry import make_policy

    from liquidcontrol.export import save_bundle

    torch.manual_seed(0)
    policy = make_policy("cfc-ncp", OBS_DIM, ACT_DIM, units=6, seed=0)
    rng = np.random.default_rng(0)
    policy.set_normalization(rng.normal(0, 1, OBS_DIM), rng.uniform(0.1, 2.0, OBS_DIM))
    folder = tmp_path_factory.mktemp("prop") / "bundle"
    save_bundle(folder, policy.eval(), {"env_id": "test/Prop-v0"}, exporter="torchscript")
    return folder


@pytest.fixture(scope="module")
def runners(bundle) -> dict[str, PolicyRunner]:
    return {b: PolicyRunner(bundle, backend=b) for b in BACKENDS}


# -- strategies ---------------------------------------------------------------------------
NUMERIC = [np.float16, np.float32, np.float64, np.int8, np.int32, np.int64, np.uint8, np.uint64, np.bool_]
ODD = [np.complex64, np.dtype("U3"), np.dtype("S2"), np.dtype("datetime64[s]")]
shapes = st.one_of(
    st.just((OBS_DIM,)),
    st.tuples(st.integers(0, 4), st.just(OBS_DIM)),
    hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
)
numeric_arrays = st.builds(lambda d, s: (d, s), st.sampled_from(NUMERIC), shapes).flatmap(
    lambda ds: hnp.arrays(ds[0], ds[1]))
odd_arrays = st.builds(lambda d, s: (d, s), st.sampled_from(ODD), shapes).flatmap(lambda ds: hnp.arrays(ds[0], ds[1]))
object_arrays = shapes.flatmap(lambda s: hnp.arrays(object, s, elements=st.one_of(
    st.none(), st.floats(), st.integers(-10 ** 40, 10 ** 40), st.text(max_size=3))))
good_obs = st.one_of(
    hnp.arrays(np.float32, (OBS_DIM,), elements=st.floats(-1e6, 1e6, width=32)),
    st.integers(1, 4).flatmap(lambda b: hnp.arrays(np.float64, (b, OBS_DIM), elements=st.floats(-1e3, 1e3))),
)
observations = st.one_of(
    good_obs, good_obs, numeric_arrays, odd_arrays, object_arrays,
    st.none(), st.text(max_size=4), st.floats(), st.integers(), st.booleans(),
    st.lists(st.floats(), max_size=5), st.lists(st.lists(st.floats(), max_size=4), max_size=3),
    st.dictionaries(st.text(max_size=3), st.floats(), max_size=3),
)
dts = st.one_of(
    st.none(), st.none(), st.floats(1e-4, 1.0), st.floats(), st.floats(width=32),
    st.integers(-10 ** 30, 10 ** 30), st.sampled_from([0, -0.0, 1e-45, 1e243, 3600.0, 3600.1, 10 ** 400]),
    st.booleans(), st.text(max_size=3), st.complex_numbers(),
    hnp.arrays(st.sampled_from([np.float32, np.float64, np.int64, np.bool_, object, np.dtype("U2")]),
               hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=5)),
    st.lists(st.floats(), max_size=5),
)


def _expected_shape(obs) -> tuple[int, ...] | None:
    try:
        shape = np.shape(obs)
    except Exception:
        return None
    return (ACT_DIM,) if len(shape) == 1 else (shape[0], ACT_DIM)


@SETTINGS
@given(obs=observations, dt=dts, reset=st.booleans())
def test_step_returns_a_finite_action_or_a_clear_error(runners, obs, dt, reset) -> None:
    for runner in runners.values():
        if reset:
            runner.reset()
        try:
            action = runner.step(obs, dt)
        except LiquidControlError as exc:
            assert "\n" not in str(exc)
        else:
            assert isinstance(action, np.ndarray) and action.shape == _expected_shape(obs)
            assert np.isfinite(action).all()
        state = runner.state
        assert state.shape[1] == runner.card.state_dim and np.isfinite(state).all()


# -- damaged bundles -------------------------------------------------------------------------
json_leaves = st.one_of(
    st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8), st.sampled_from([0, -1, 1, 2, 10 ** 400, 1e308, -1e308, 2 ** 63, 1e-320, "", "obs", []]),
)
json_values = st.recursive(json_leaves, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
                           max_leaves=8)


def _paths(value, prefix=()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value[:3]):
            out += _paths(v, prefix + (i,))
    return out


def _mutate(data, path, action, value):
    target = data
    for step in path[:-1]:
        target = target[step]
    last = path[-1]
    if action == "drop":
        del target[last]
    else:
        target[last] = value


def _copy_bundle(src: Path) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="lc-prop-")) / "b"
    shutil.copytree(src, folder)
    return folder


def _load_and_step(folder: Path) -> None:
    """Loading raises LiquidControlError or gives a runner whose step is finite or raises it."""
    try:
        load_card(folder)
    except LiquidControlError:
        pass
    for backend in BACKENDS:
        try:
            runner = PolicyRunner(folder, backend=backend)
        except LiquidControlError as exc:
            assert "\n" not in str(exc)
            continue
        for obs in (np.zeros(OBS_DIM, np.float32), np.ones((2, OBS_DIM))):
            try:
                action = runner.step(obs)
            except LiquidControlError:
                pass
            else:
                assert np.isfinite(action).all() and action.shape[-1] == runner.card.act_dim
            assert np.isfinite(runner.state).all()


@SETTINGS
@given(data=st.data(), manifest=st.sampled_from(["fresh", "fresh", "absent", "stale"]))
def test_mutated_card_gives_a_clear_error_or_a_working_runner(bundle, data, manifest) -> None:
    card = json.loads((bundle / "card.json").read_text())
    for _ in range(data.draw(st.integers(1, 3))):
        paths = _paths(card)
        if not paths:
            break
        path = data.draw(st.sampled_from(paths))
        _mutate(card, path, data.draw(st.sampled_from(["drop", "replace"])), data.draw(json_values))
    text = json.dumps(card)
    raw = data.draw(st.sampled_from(["none", "none", "none", "nan", "truncate"]))
    if raw == "nan":
        text = text.replace("0.05", "NaN", 1).replace("null", "Infinity", 1)
    elif raw == "truncate":
        text = text[: data.draw(st.integers(0, len(text)))]
    folder = _copy_bundle(bundle)
    try:
        (folder / "card.json").write_text(text)
        if manifest == "fresh":
            write_manifest(folder)
        elif manifest == "absent":
            (folder / "manifest.json").unlink()
        _load_and_step(folder)
    finally:
        shutil.rmtree(folder.parent, ignore_errors=True)


@SETTINGS
@given(data=st.data(), name=st.sampled_from(["policy.onnx", "weights.npz"]), keep_manifest=st.booleans(),
       kind=st.sampled_from(["flip", "flip", "truncate", "overwrite", "append"]))
def test_corrupt_weights_give_a_clear_error_or_a_working_runner(bundle, data, name, keep_manifest, kind) -> None:
    original = (bundle / name).read_bytes()
    blob = bytearray(original)
    if kind == "flip":
        for _ in range(data.draw(st.integers(1, 4))):
            pos = data.draw(st.integers(0, len(blob) - 1))
            blob[pos] ^= 1 << data.draw(st.integers(0, 7))
    elif kind == "truncate":
        blob = blob[: data.draw(st.integers(0, len(blob) - 1))]
    elif kind == "overwrite":
        pos = data.draw(st.integers(0, len(blob) - 1))
        junk = data.draw(st.binary(min_size=1, max_size=16))
        blob[pos:pos + len(junk)] = junk
    else:
        blob += data.draw(st.binary(min_size=1, max_size=64))
    assume(bytes(blob) != original)
    folder = _copy_bundle(bundle)
    try:
        (folder / name).write_bytes(bytes(blob))
        if keep_manifest:
            backend = "onnxruntime" if name == "policy.onnx" else "numpy"
            with pytest.raises(LiquidControlError, match="incomplete or modified"):
                PolicyRunner(folder, backend=backend)
        else:
            os.unlink(folder / "manifest.json")
            _load_and_step(folder)
    finally:
        shutil.rmtree(folder.parent, ignore_errors=True)
