"""PolicyRunner guards: bounded dt, never a non-finite action or state, Dict observations,
and pretrained names that cannot leave their folder."""

from __future__ import annotations

import json
import shutil

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.runtime import PolicyRunner
from liquidcontrol.runtime.card import PolicyCard, image_input, vector_input
from liquidcontrol.runtime.runner import MAX_DT_S

BACKENDS = ("onnxruntime", "numpy")


def one_sentence(exc: pytest.ExceptionInfo) -> None:
    text = str(exc.value)
    assert "\n" not in text and text.endswith(".") and len(text) < 320, text


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    from liquidcontrol.policies.registry import make_policy

    from liquidcontrol.export import save_bundle

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("guards") / "cfc"
    save_bundle(folder, make_policy("cfc-ncp", 5, 2, units=8, seed=0), {"env_id": "test/Fake-v0"},
                exporter="torchscript")
    return folder


# -- dt -----------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dt", [MAX_DT_S * 1.01, 1e243, 1e308, float("inf"), 10 ** 400, -1e-9, 0, True,
                                "0.05", np.array([0.05, np.nan]), np.array(["a"]), complex(0.05, 0), 1e-50])
def test_bad_dt_is_refused(good, backend, dt) -> None:
    runner = PolicyRunner(good, backend=backend)
    runner.step(np.ones(5))
    before = runner.state
    with pytest.raises(LiquidControlError, match="dt must be") as exc:
        runner.step(np.ones(5), dt=dt)
    one_sentence(exc)
    np.testing.assert_array_equal(runner.state, before)  # a refused input leaves the state alone


@pytest.mark.parametrize("backend", BACKENDS)
def test_largest_dt_runs(good, backend) -> None:
    runner = PolicyRunner(good, backend=backend)
    action = runner.step(np.ones(5), dt=MAX_DT_S)
    assert np.isfinite(action).all() and np.isfinite(runner.state).all()
    assert np.isfinite(runner.step(np.ones(5), dt=np.float64(1e-3))).all()
    runner.reset()
    assert np.isfinite(runner.step(np.ones((3, 5)), dt=np.array([MAX_DT_S, 1e-3, 0.05]))).all()


# -- non-finite outputs ---------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("batched", [False, True])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_result_raises_and_resets_the_state(good, backend, batched, bad, monkeypatch) -> None:
    runner = PolicyRunner(good, backend=backend)
    obs = np.ones((3, 5)) if batched else np.ones(5)
    runner.step(obs)
    assert np.abs(runner.state).max() > 0
    originals = {"_run": runner._run, "_run1": runner._run1}
    for poison_state in (False, True):
        def poison(fn, poison_state=poison_state):
            def poisoned(x, state, dt):
                action, new_state = fn(x, state, dt)
                action, new_state = np.array(action, dtype=np.float64), np.array(new_state, dtype=np.float64)
                (new_state if poison_state else action).flat[-1] = bad
                return action, new_state
            return poisoned

        for attr, fn in originals.items():
            if fn is not None:
                monkeypatch.setattr(runner, attr, poison(fn))
        with pytest.raises(LiquidControlError, match="non-finite action or state .*state was reset to zeros") as exc:
            runner.step(obs)
        one_sentence(exc)
        np.testing.assert_array_equal(runner.state, np.zeros((1, runner.card.state_dim)))
        for attr, fn in originals.items():
            monkeypatch.setattr(runner, attr, fn)
        assert np.isfinite(runner.step(obs)).all()  # the next step starts clean
        assert np.abs(runner.state).max() > 0


def _overflowing_mlp(scale: float):
    """An MLP (frame stack 2, relu) that is finite at zero but overflows on large inputs."""
    from liquidcontrol.policies.registry import make_policy

    torch.manual_seed(0)
    policy = make_policy("mlp", 4, 2, hidden=8, frame_stack=2, activation="relu")
    with torch.no_grad():
        for name, p in policy.named_parameters():
            if name.endswith("bias"):
                p.zero_()
            elif "weight" in name:
                p.mul_(scale)
    return policy.eval()


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
@pytest.mark.parametrize("backend", BACKENDS)
def test_weights_that_overflow_raise_and_reset(tmp_path, backend) -> None:
    from liquidcontrol.export import save_bundle

    policy = _overflowing_mlp(1e19)  # float32 overflows past 3.4e38, float64 does not
    save_bundle(tmp_path / "b", policy, {"env_id": "test/Overflow-v0"}, exporter="torchscript")
    if backend == "numpy":  # float64: scale the stored weights until float64 overflows too
        with np.load(tmp_path / "b" / "weights.npz", allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        layers = [k for k in arrays if k.endswith(".W")]
        extra = 10.0 ** (320 / len(layers) - 19)  # 1e320 over all layers: overflows at 5, not at 1e-30
        for key in layers:
            arrays[key] = arrays[key] * extra
        np.savez(tmp_path / "b" / "weights.npz", **arrays)
        (tmp_path / "b" / "manifest.json").unlink()
    runner = PolicyRunner(tmp_path / "b", backend=backend)
    small = np.full(4, 1e-30, dtype=np.float32)
    assert np.isfinite(runner.step(small)).all()
    assert np.abs(runner.state).max() > 0
    with pytest.raises(LiquidControlError, match="non-finite action or state") as exc:
        runner.step(np.full(4, 5.0, dtype=np.float32))
    one_sentence(exc)
    np.testing.assert_array_equal(runner.state, np.zeros((1, runner.card.state_dim)))


# -- Dict observations ------------------------------------------------------------------
H = W = 4


def _dict_graph() -> onnx.ModelProto:
    """action = [mean(image) / 255, speed] + state; state_out = action * dt."""
    nodes = [
        helper.make_node("Cast", ["obs_image"], ["img_f"], to=TensorProto.FLOAT),
        helper.make_node("ReduceMean", ["img_f", "axes"], ["img_mean"], keepdims=0),
        helper.make_node("Unsqueeze", ["img_mean", "one_axis"], ["img_col"]),
        helper.make_node("Mul", ["img_col", "inv255"], ["img_scaled"]),
        helper.make_node("Concat", ["img_scaled", "obs_speed"], ["feat"], axis=1),
        helper.make_node("Add", ["feat", "state"], ["action"]),
        helper.make_node("Mul", ["action", "dt"], ["state_out"]),
    ]
    inits = [helper.make_tensor("axes", TensorProto.INT64, [3], [1, 2, 3]),
             helper.make_tensor("one_axis", TensorProto.INT64, [1], [1]),
             helper.make_tensor("inv255", TensorProto.FLOAT, [], [1.0 / 255.0])]
    graph = helper.make_graph(
        nodes, "dict_policy",
        [helper.make_tensor_value_info("obs_image", TensorProto.UINT8, ["batch", H, W, 3]),
         helper.make_tensor_value_info("obs_speed", TensorProto.FLOAT, ["batch", 1]),
         helper.make_tensor_value_info("state", TensorProto.FLOAT, ["batch", 2]),
         helper.make_tensor_value_info("dt", TensorProto.FLOAT, ["batch", 1])],
        [helper.make_tensor_value_info("action", TensorProto.FLOAT, ["batch", 2]),
         helper.make_tensor_value_info("state_out", TensorProto.FLOAT, ["batch", 2])],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    onnx.checker.check_model(model, full_check=True)
    return model


def _dict_card() -> PolicyCard:
    speed = [{"name": "speed", "unit": "m/s", "scale": 1.0}]
    return PolicyCard(env_id="test/Dict-v0", model_kind="mlp", act_dim=2, state_dim=2, control_period_s=0.05,
                      inputs=[image_input("image", H, W), vector_input(1, speed, key="speed")],
                      model_config={"act_dim": 2})


@pytest.fixture(scope="module")
def dict_bundle(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dict")
    onnx.save(_dict_graph(), str(folder / "policy.onnx"))
    (folder / "card.json").write_text(_dict_card().to_json())
    return folder


def _expected(image: np.ndarray, speed: np.ndarray, state: np.ndarray) -> np.ndarray:
    img = image.reshape(image.shape[0], -1).astype(np.float64).mean(axis=1) / 255.0
    return np.stack([img, speed[:, 0]], axis=1) + state


def test_dict_observation_steps_through_onnxruntime(dict_bundle) -> None:
    runner = PolicyRunner(dict_bundle, backend="onnxruntime")
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    action = runner.step({"image": image, "speed": np.array([0.5])}, dt=0.1)
    expected = _expected(image[None], np.array([[0.5]]), np.zeros((1, 2)))[0]
    assert action.shape == (2,) and np.abs(action - expected).max() < 1e-5
    np.testing.assert_allclose(runner.state, expected[None] * 0.1, atol=1e-6)
    # batched, with the state carried over
    runner.reset()
    images = rng.integers(0, 256, (3, H, W, 3), dtype=np.uint8)
    speeds = rng.standard_normal((3, 1)).astype(np.float32)
    first = runner.step({"image": images, "speed": speeds})
    np.testing.assert_allclose(first, _expected(images, speeds, np.zeros((3, 2))), atol=1e-5)
    second = runner.step({"speed": speeds, "image": images})
    np.testing.assert_allclose(second, _expected(images, speeds, first * 0.05), atol=1e-5)


@pytest.mark.parametrize("obs, match", [
    ({"image": np.zeros((H, W, 3), np.uint8)}, r"missing the key\(s\) \['speed'\]"),
    ({"image": np.zeros((H, W, 3), np.uint8), "speed": [1.0], "extra": 1}, "unexpected key"),
    ({"image": np.zeros((H, W, 3)), "speed": [1.0]}, "'image' must be a uint8 image"),
    ({"image": np.zeros((H, W), np.uint8), "speed": [1.0]}, r"'image' must have shape \[4, 4, 3\]"),
    ({"image": np.zeros((H, W, 3), np.uint8), "speed": [1.0, 2.0]}, r"'speed' must have shape \[1\]"),
    ({"image": np.zeros((H, W, 3), np.uint8), "speed": [np.nan]}, "'speed' contains NaN"),
    ({"image": np.zeros((H, W, 3), np.uint8), "speed": ["fast"]}, "'speed' must hold numbers"),
    ({"image": np.zeros((2, H, W, 3), np.uint8), "speed": np.zeros((3, 1))}, "disagree on the batch"),
    ({"image": np.zeros((2, H, W, 3), np.uint8), "speed": [1.0]}, "disagree on the batch"),
    ({"image": np.zeros((0, H, W, 3), np.uint8), "speed": np.zeros((0, 1))}, "must have shape"),
    ({"image": None, "speed": [1.0]}, "'image' must be an array"),
    (np.zeros(1), "takes a dict observation with the keys \\['image', 'speed'\\]"),
])
def test_bad_dict_observations(dict_bundle, obs, match) -> None:
    runner = PolicyRunner(dict_bundle, backend="onnxruntime")
    with pytest.raises(LiquidControlError, match=match) as exc:
        runner.step(obs)
    one_sentence(exc)


def test_numpy_backend_refuses_image_inputs(dict_bundle) -> None:
    with pytest.raises(LiquidControlError, match="use backend='onnxruntime'") as exc:
        PolicyRunner(dict_bundle, backend="numpy")
    one_sentence(exc)


def test_dict_graph_must_match_the_card(dict_bundle, tmp_path) -> None:
    folder = shutil.copytree(dict_bundle, tmp_path / "d")
    card = _dict_card().to_dict()
    card["inputs"][0]["shape"] = [H, W + 1, 3]
    (folder / "card.json").write_text(json.dumps(card))
    with pytest.raises(LiquidControlError, match="'obs_image' the shape") as exc:
        PolicyRunner(folder, backend="onnxruntime")
    one_sentence(exc)


def test_numpy_backend_runs_vector_only_dict_observations(good, tmp_path) -> None:
    """Two vector keys: the numpy program sees their concatenation in card (key) order."""
    folder = shutil.copytree(good, tmp_path / "v")
    card = json.loads((folder / "card.json").read_text())
    layout = card["inputs"][0]["layout"]
    card["inputs"] = [vector_input(2, layout[:2], key="a"), vector_input(3, layout[2:], key="b")]
    card["onnx"]["inputs"] = ["obs_a", "obs_b", "state", "dt"]
    (folder / "card.json").write_text(json.dumps(card))
    (folder / "manifest.json").unlink()
    plain, keyed = PolicyRunner(good, backend="numpy"), PolicyRunner(folder, backend="numpy")
    assert keyed.card.obs_dim == 5 and keyed.card.is_dict
    obs = np.random.default_rng(0).standard_normal((3, 5)).astype(np.float32)
    for t in range(3):
        np.testing.assert_array_equal(keyed.step({"a": obs[t, :2], "b": obs[t, 2:]}), plain.step(obs[t]))
    plain.reset()
    keyed.reset()
    np.testing.assert_array_equal(keyed.step({"a": obs[:, :2], "b": obs[:, 2:]}), plain.step(obs))
    with pytest.raises(LiquidControlError, match="takes a dict observation"):
        keyed.step(obs[0])


# -- pretrained names ------------------------------------------------------------------
@pytest.mark.parametrize("name", ["..", "../pretrained/parking_cfc_ncp12", "parking_cfc_ncp12/../..", "/etc",
                                  "a/b", "a\\b", "", ".hidden", "C:evil", "x\0y"])
def test_pretrained_refuses_names_that_leave_its_folder(name) -> None:
    from liquidcontrol.runtime import pretrained

    with pytest.raises(LiquidControlError, match="bare folder names") as exc:
        pretrained(name)
    one_sentence(exc)


def test_pretrained_still_finds_the_shipped_bundles() -> None:
    from liquidcontrol.runtime import available_pretrained, pretrained

    names = available_pretrained()
    assert "parking_cfc_ncp12" in names
    assert (pretrained("parking_cfc_ncp12") / "card.json").is_file()
    with pytest.raises(LiquidControlError, match="no pretrained bundle named"):
        pretrained("no_such_policy")
