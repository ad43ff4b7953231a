"""Bad bundles and bad inputs each raise one clear LiquidControlError."""

from __future__ import annotations

import json
import shutil
import zipfile

import numpy as np
import pytest
import torch

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.runtime import PolicyRunner

BACKENDS = ("onnxruntime", "numpy")


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    from liquidcontrol.policies.registry import make_policy

    from liquidcontrol.export import save_bundle

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("good")
    save_bundle(folder, make_policy("cfc-ncp", 5, 2, units=8, seed=0), {"env_id": "test/Fake-v0"},
                exporter="torchscript")
    return folder


@pytest.fixture
def bundle(good, tmp_path):
    """A private copy to damage."""
    return shutil.copytree(good, tmp_path / "b")


def _one_sentence(exc: pytest.ExceptionInfo) -> None:
    text = str(exc.value)
    assert "\n" not in text and text.endswith(".") and len(text) < 300


@pytest.mark.parametrize("backend", BACKENDS)
def test_good_bundle_steps(good, backend) -> None:
    action = PolicyRunner(good, backend=backend).step(np.zeros(5))
    assert action.shape == (2,) and np.isfinite(action).all()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("obs, match", [
    (np.full(5, np.nan), "NaN"),
    (np.array([0.0, 1.0, np.inf, 0.0, 0.0]), "NaN or infinite"),
    (np.zeros(4), r"shape \[5\]"),
    (np.zeros((2, 3, 5)), r"shape \[5\]"),
])
def test_bad_observations(good, backend, obs, match) -> None:
    runner = PolicyRunner(good, backend=backend)
    with pytest.raises(LiquidControlError, match=match) as exc:
        runner.step(obs)
    _one_sentence(exc)


@pytest.mark.parametrize("dt", [0.0, -0.05, float("nan"), np.array([0.1, 0.2])])
def test_bad_dt(good, dt) -> None:
    with pytest.raises(LiquidControlError, match="dt must be"):
        PolicyRunner(good, backend="numpy").step(np.zeros(5), dt=dt)


def test_batch_change_needs_reset(good) -> None:
    runner = PolicyRunner(good, backend="numpy")
    runner.step(np.zeros((2, 5)))
    with pytest.raises(LiquidControlError, match="reset"):
        runner.step(np.zeros((3, 5)))
    runner.reset()
    assert runner.step(np.zeros((3, 5))).shape == (3, 2)


def test_state_setter_checks_width(good) -> None:
    runner = PolicyRunner(good, backend="numpy")
    with pytest.raises(LiquidControlError, match="state must be"):
        runner.state = np.zeros(3)


def test_corrupt_onnx(bundle) -> None:
    (bundle / "policy.onnx").write_bytes(b"\x08\x07garbage" * 50)
    with pytest.raises(LiquidControlError, match="corrupt or not ONNX") as exc:
        PolicyRunner(bundle, backend="onnxruntime")
    _one_sentence(exc)


def test_truncated_onnx(bundle) -> None:
    data = (bundle / "policy.onnx").read_bytes()
    (bundle / "policy.onnx").write_bytes(data[: len(data) // 2])
    with pytest.raises(LiquidControlError, match="cannot load the ONNX model"):
        PolicyRunner(bundle, backend="onnxruntime")


def test_corrupt_npz(bundle) -> None:
    (bundle / "weights.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(LiquidControlError, match="corrupt") as exc:
        PolicyRunner(bundle, backend="numpy")
    _one_sentence(exc)


def test_npz_with_pickled_object_is_refused(bundle) -> None:
    with zipfile.ZipFile(bundle / "weights.npz", "a") as zf, zf.open("evil.npy", "w") as fh:
        np.lib.format.write_array(fh, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(LiquidControlError, match="corrupt"):
        PolicyRunner(bundle, backend="numpy")


@pytest.mark.parametrize("name, backend", [
    ("card.json", "onnxruntime"), ("policy.onnx", "onnxruntime"), ("weights.npz", "numpy"),
])
def test_missing_file(bundle, name, backend) -> None:
    (bundle / name).unlink()
    with pytest.raises(LiquidControlError, match=name.replace(".", r"\.")) as exc:
        PolicyRunner(bundle, backend=backend)
    _one_sentence(exc)


def test_missing_folder(tmp_path) -> None:
    with pytest.raises(LiquidControlError, match="does not exist"):
        PolicyRunner(tmp_path / "nope")


def test_unknown_backend(good) -> None:
    with pytest.raises(LiquidControlError, match="unknown runtime backend 'tflite'"):
        PolicyRunner(good, backend="tflite")


def _edit_card(bundle, **changes) -> None:
    card = json.loads((bundle / "card.json").read_text())
    card.update(changes)
    (bundle / "card.json").write_text(json.dumps(card))


@pytest.mark.parametrize("backend", BACKENDS)
def test_card_onnx_width_mismatch(bundle, backend) -> None:
    layout = [{"name": f"o{i}", "unit": ""} for i in range(7)]
    _edit_card(bundle, obs_dim=7, observation=layout)
    with pytest.raises(LiquidControlError, match="7") as exc:
        PolicyRunner(bundle, backend=backend)
    _one_sentence(exc)


def test_card_state_mismatch(bundle) -> None:
    card = json.loads((bundle / "card.json").read_text())
    _edit_card(bundle, state_dim=card["state_dim"] + 1)
    for backend in BACKENDS:
        with pytest.raises(LiquidControlError, match="state"):
            PolicyRunner(bundle, backend=backend)


def test_card_env_mismatch_with_embedded_card(bundle) -> None:
    _edit_card(bundle, env_id="other/Env-v0")
    with pytest.raises(LiquidControlError, match="env_id"):
        PolicyRunner(bundle, backend="onnxruntime")


def test_card_onnx_name_mismatch(bundle) -> None:
    card = json.loads((bundle / "card.json").read_text())
    card["onnx"]["inputs"] = ["obs_image", "state", "dt"]
    (bundle / "card.json").write_text(json.dumps(card))
    with pytest.raises(LiquidControlError, match="inputs"):
        PolicyRunner(bundle, backend="onnxruntime")


def test_corrupt_card_json(bundle) -> None:
    (bundle / "card.json").write_text("{not json")
    with pytest.raises(LiquidControlError, match="not valid JSON") as exc:
        PolicyRunner(bundle)
    _one_sentence(exc)


def test_npz_from_another_model(bundle, tmp_path) -> None:
    """weights.npz of a different model next to this card: caught before stepping."""
    from liquidcontrol.policies.registry import make_policy

    from liquidcontrol.export import save_bundle

    save_bundle(tmp_path / "other", make_policy("gru", 5, 2, hidden=4), {"env_id": "test/Fake-v0"},
                exporter="torchscript")
    shutil.copy(tmp_path / "other" / "weights.npz", bundle / "weights.npz")
    with pytest.raises(LiquidControlError, match="state_dim") as exc:
        PolicyRunner(bundle, backend="numpy")
    _one_sentence(exc)
