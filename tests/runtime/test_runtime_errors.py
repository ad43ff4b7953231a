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
    """A private copy to damage, without its manifest so the parsers themselves are exercised."""
    folder = shutil.copytree(good, tmp_path / "b")
    (folder / "manifest.json").unlink()
    return folder


@pytest.fixture
def checked(good, tmp_path):
    """A private copy with its manifest."""
    return shutil.copytree(good, tmp_path / "c")


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
    card = json.loads((bundle / "card.json").read_text())
    inputs = [{**card["inputs"][0], "shape": [7], "layout": layout}]
    _edit_card(bundle, inputs=inputs, model={**card["model"], "config": {**card["model"]["config"], "obs_dim": 7}})
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
    # A consistent card whose input differs from the graph's.
    speed = {"name": "obs_speed", "key": "speed", "dtype": "float32", "shape": [5], "layout": card["inputs"][0]["layout"]}
    card["inputs"], card["onnx"]["inputs"] = [speed], ["obs_speed", "state", "dt"]
    (bundle / "card.json").write_text(json.dumps(card))
    with pytest.raises(LiquidControlError, match="has inputs") as exc:
        PolicyRunner(bundle, backend="onnxruntime")
    _one_sentence(exc)


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


# -- manifest ---------------------------------------------------------------------
@pytest.mark.parametrize("name, backend", [
    ("card.json", "numpy"), ("policy.onnx", "onnxruntime"), ("weights.npz", "numpy"),
])
def test_manifest_catches_a_modified_file(checked, name, backend) -> None:
    data = bytearray((checked / name).read_bytes())
    data[len(data) // 2] ^= 0x10  # one bit flip
    (checked / name).write_bytes(bytes(data))
    with pytest.raises(LiquidControlError, match=f"incomplete or modified: {name.replace('.', '[.]')} does not match") as exc:
        PolicyRunner(checked, backend=backend)
    _one_sentence(exc)


@pytest.mark.parametrize("backend", BACKENDS)
def test_manifest_catches_a_missing_file(checked, backend) -> None:
    name = "policy.onnx" if backend == "onnxruntime" else "weights.npz"
    (checked / name).unlink()
    with pytest.raises(LiquidControlError, match=f"incomplete: {name.replace('.', '[.]')} is listed in manifest.json but missing"):
        PolicyRunner(checked, backend=backend)


@pytest.mark.parametrize("text", ["{broken", "[]", '{"format_version": 1, "algorithm": "md5", "files": {}}',
                                  '{"format_version": 1, "algorithm": "sha256", "files": {"../card.json": "00"}}'])
def test_corrupt_manifest(checked, text) -> None:
    (checked / "manifest.json").write_text(text)
    with pytest.raises(LiquidControlError, match="manifest.*incomplete or modified") as exc:
        PolicyRunner(checked, backend="numpy")
    _one_sentence(exc)


def test_manifest_is_checked_by_load_policy(checked) -> None:
    from liquidcontrol.export import load_policy

    load_policy(checked)
    data = bytearray((checked / "weights.safetensors").read_bytes())
    data[-3] ^= 0x01
    (checked / "weights.safetensors").write_bytes(bytes(data))
    with pytest.raises(LiquidControlError, match="weights.safetensors does not match its sha256"):
        load_policy(checked)


def test_manifest_can_be_refreshed_after_a_deliberate_edit(checked) -> None:
    from liquidcontrol.runtime.manifest import write_manifest

    _edit_card(checked, evaluation={"note": "edited by hand"})
    with pytest.raises(LiquidControlError, match="card.json does not match"):
        PolicyRunner(checked, backend="numpy")
    write_manifest(checked)
    assert PolicyRunner(checked, backend="numpy").card.evaluation == {"note": "edited by hand"}


def test_weights_with_non_finite_values_are_refused(bundle) -> None:
    with np.load(bundle / "weights.npz", allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    key = next(k for k in arrays if k.endswith(".W"))
    arrays[key] = arrays[key].copy()
    arrays[key].flat[0] = np.inf
    np.savez(bundle / "weights.npz", **arrays)
    with pytest.raises(LiquidControlError, match="NaN or infinite values") as exc:
        PolicyRunner(bundle, backend="numpy")
    _one_sentence(exc)


def test_weights_with_inconsistent_shapes_fail_at_load(bundle) -> None:
    with np.load(bundle / "weights.npz", allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    key = next(k for k in arrays if k.endswith(".W"))
    arrays[key] = arrays[key][:-1]
    np.savez(bundle / "weights.npz", **arrays)
    with pytest.raises(LiquidControlError, match="inconsistent") as exc:
        PolicyRunner(bundle, backend="numpy")
    _one_sentence(exc)


@pytest.mark.parametrize("program", ['[1, 2]', '{"format_version": 2, "obs_dim": 5, "act_dim": 2, "state_dim": 8, "blocks": [3]}',
                                     '{"format_version": 2, "obs_dim": 5, "act_dim": 2, "state_dim": 8, "blocks": []}'])
def test_damaged_program(bundle, program) -> None:
    with np.load(bundle / "weights.npz", allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    state_dim = json.loads(str(arrays["__program__"]))["state_dim"]
    arrays["__program__"] = np.array(program.replace('"state_dim": 8', f'"state_dim": {state_dim}'))
    np.savez(bundle / "weights.npz", **arrays)
    with pytest.raises(LiquidControlError) as exc:
        PolicyRunner(bundle, backend="numpy")
    _one_sentence(exc)


def test_execution_providers_are_checked_against_this_onnxruntime():
    import numpy as np

    from liquidcontrol.runtime import PolicyRunner, pretrained

    bundle = pretrained("parking_cfc_ncp12")
    cpu = PolicyRunner(bundle, providers=["CPUExecutionProvider"])
    default = PolicyRunner(bundle)
    obs = np.full(14, 0.2, np.float32)
    assert np.array_equal(cpu.step(obs, 0.05), default.step(obs, 0.05))
    with pytest.raises(LiquidControlError, match=r"provider 'TensorrtExecutionProvider' is not available in this "
                                                 r"onnxruntime \(available: .*CPUExecutionProvider"):
        PolicyRunner(bundle, providers=["TensorrtExecutionProvider", "CPUExecutionProvider"])
    with pytest.raises(LiquidControlError, match="numpy backend takes none"):
        PolicyRunner(bundle, "numpy", providers=["CPUExecutionProvider"])
    with pytest.raises(LiquidControlError, match="non-empty list"):
        PolicyRunner(bundle, providers=[])
