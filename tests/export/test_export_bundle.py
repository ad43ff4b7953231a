"""Bundle files, ONNX contract, metadata round trip, reload, and the export CLI."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch
from export_helpers import ACT_DIM, OBS_DIM, random_policy

from liquidcontrol.cli import main as cli_main
from liquidcontrol.errors import LiquidControlError
from liquidcontrol.export import export_onnx, load_policy, read_embedded_card, save_bundle
from liquidcontrol.export.bundle import card_from_policy
from liquidcontrol.runtime import load_card

FIELDS = {
    "env_id": "liquidcontrol/Parking-v0",
    "observation": [{"name": f"o{i}", "unit": "m"} for i in range(OBS_DIM)],
    "action": [{"name": "steer", "unit": "rad", "scale": 0.38, "low": -1.0, "high": 1.0},
               {"name": "speed", "unit": "m/s", "scale": 1.0}],
    "task": "parking",
    "training": {"algo": "dagger", "iterations": 3},
    "evaluation": {"success_rate": 0.82},
}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bundle")
    policy = random_policy("cfc-ncp")
    card = save_bundle(folder, policy, FIELDS)
    return folder, policy, card


def test_bundle_layout_and_card(bundle) -> None:
    folder, policy, card = bundle
    assert sorted(p.name for p in folder.iterdir()) == [
        "card.json", "manifest.json", "policy.onnx", "weights.npz", "weights.safetensors"]
    loaded = load_card(folder)
    assert loaded == card
    assert loaded.model_kind == "cfc-ncp" and loaded.env_id == FIELDS["env_id"] and loaded.task == "parking"
    assert (loaded.obs_dim, loaded.act_dim, loaded.state_dim) == (OBS_DIM, ACT_DIM, policy.state_dim)
    assert loaded.parameter_count == policy.num_parameters()
    assert loaded.neurons["total"] == 10 and loaded.neurons.get("motor") == ACT_DIM
    assert loaded.action_scale() == [0.38, 1.0]
    assert loaded.action_bounds() == ([-1.0, -float("inf")], [1.0, float("inf")])
    np.load(folder / "weights.npz", allow_pickle=False)  # no pickled objects inside
    data = json.loads((folder / "card.json").read_text())
    assert data["format_version"] == 2
    assert data["inputs"] == [{"name": "obs", "key": None, "dtype": "float32", "shape": [OBS_DIM],
                               "layout": FIELDS["observation"]}]
    assert data["action"][1] == {**FIELDS["action"][1], "low": None, "high": None}
    assert data["onnx"] == {"inputs": ["obs", "state", "dt"], "outputs": ["action", "state_out"]}


def test_manifest_lists_every_file(bundle) -> None:
    import hashlib

    folder, _, _ = bundle
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["algorithm"] == "sha256"
    assert manifest["files"] == {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                                 for p in folder.iterdir() if p.name != "manifest.json"}


def test_trainable_parameter_count_uses_effective_counts_when_available(monkeypatch) -> None:
    policy = random_policy("cfc-ncp")
    total = policy.num_parameters()
    assert card_from_policy(policy).parameter_count == total

    def counting(trainable_only: bool = True, effective: bool = False) -> int:
        return total - 100 if effective else total

    monkeypatch.setattr(policy, "num_parameters", counting)
    card = card_from_policy(policy)
    assert (card.parameter_count, card.trainable_parameter_count) == (total, total - 100)

    monkeypatch.setattr(policy, "num_parameters", lambda trainable_only=True: total)  # older signature
    assert card_from_policy(policy).trainable_parameter_count == total


def test_onnx_contract_and_checker(bundle) -> None:
    folder, policy, _ = bundle
    model = onnx.load(str(folder / "policy.onnx"))
    onnx.checker.check_model(model, full_check=True)

    def dims(values):
        return {v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim] for v in values}

    inputs, outputs = dims(model.graph.input), dims(model.graph.output)
    assert list(inputs) == ["obs", "state", "dt"] and list(outputs) == ["action", "state_out"]
    assert inputs["obs"][1] == OBS_DIM and inputs["state"][1] == policy.state_dim and inputs["dt"][1] == 1
    assert outputs["action"][1] == ACT_DIM and outputs["state_out"][1] == policy.state_dim
    assert isinstance(inputs["obs"][0], str), "batch axis must be dynamic"


def test_metadata_round_trip(bundle) -> None:
    folder, _, card = bundle
    assert read_embedded_card(folder / "policy.onnx") == card
    meta = {p.key: p.value for p in onnx.load(str(folder / "policy.onnx")).metadata_props}
    assert meta["liquidcontrol.model_kind"] == "cfc-ncp"
    assert json.loads(meta["liquidcontrol.card"])["evaluation"] == {"success_rate": 0.82}


def test_load_policy_reproduces_outputs(bundle) -> None:
    folder, policy, _ = bundle
    again = load_policy(folder)
    obs, state, dt = torch.randn(3, OBS_DIM), torch.randn(3, policy.state_dim) * 0.1, torch.full((3, 1), 0.05)
    with torch.no_grad():
        for a, b in zip(policy(obs, state, dt), again(obs, state, dt)):
            torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_dynamo_exporter_gives_same_graph_outputs(tmp_path) -> None:
    import onnxruntime as ort

    policy = random_policy("cfc-ncp")
    card = card_from_policy(policy, env_id="test")
    outs = []
    for exporter in ("torchscript", "dynamo"):
        export_onnx(policy, tmp_path / f"{exporter}.onnx", card, exporter=exporter)
        sess = ort.InferenceSession(str(tmp_path / f"{exporter}.onnx"), providers=["CPUExecutionProvider"])
        feed = {"obs": np.ones((1, OBS_DIM), np.float32), "state": np.zeros((1, policy.state_dim), np.float32),
                "dt": np.full((1, 1), 0.05, np.float32)}
        outs.append(sess.run(None, feed))
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_card_fields_cannot_override_model_facts() -> None:
    for field in ("obs_dim", "inputs", "trainable_parameter_count", "control_period_s"):
        with pytest.raises(LiquidControlError, match="read from the policy"):
            card_from_policy(random_policy("gru"), **{field: 3})
    with pytest.raises(LiquidControlError, match="unknown card fields \\['colour'\\]"):
        card_from_policy(random_policy("gru"), colour="red")


@pytest.mark.parametrize("fields, match", [
    ({"observation": {"a": []}}, "layout is a dict but the policy takes one vector"),
    ({"observation": [{"name": "x", "unit": "m"}]}, "obs layout has 1 entries but the width is 6"),
    ({"observation": "x"}, "must be a list or a dict"),
    ({"action": [{"name": "a", "unit": "", "low": 2.0, "high": 1.0}, {"name": "b", "unit": ""}]}, "above high"),
    ({"evaluation": {"success": float("nan")}}, "evaluation is not strict JSON"),
    ({"training": 3}, "training should be an object"),
])
def test_bad_card_fields(fields, match) -> None:
    with pytest.raises(LiquidControlError, match=match):
        card_from_policy(random_policy("gru"), **fields)


def test_infinite_action_bounds_are_recorded_as_unknown() -> None:
    action = [{"name": "a", "unit": "", "low": float("-inf"), "high": float("inf")}, {"name": "b", "unit": ""}]
    card = card_from_policy(random_policy("gru"), action=action)
    assert card.action[0]["low"] is None and card.action[0]["high"] is None
    assert card.action_bounds() is None and action[0]["low"] == float("-inf")  # the caller's copy untouched


def test_export_cli_from_checkpoint_and_bundle(tmp_path, capsys) -> None:
    from liquidcontrol.train.checkpoint import save_checkpoint

    policy = random_policy("lstm")
    save_checkpoint(tmp_path / "ckpt", policy, {"learner_success": 0.5, "recipe": {"env_id": "test/Fake-v0"}})
    fast = ["--exporter", "torchscript"]
    assert cli_main(["export", str(tmp_path / "ckpt"), "--out", str(tmp_path / "b1"), *fast]) == 0
    card = load_card(tmp_path / "b1")
    assert card.env_id == "test/Fake-v0" and card.evaluation == {"learner_success": 0.5}
    assert cli_main(["export", str(tmp_path / "b1"), "--out", str(tmp_path / "b2"), *fast]) == 0
    assert load_card(tmp_path / "b2") == card
    assert cli_main(["export", str(tmp_path), "--out", str(tmp_path / "b3")]) == 2
    assert "neither a checkpoint folder" in capsys.readouterr().err


def test_export_cli_takes_layouts_from_the_env(tmp_path) -> None:
    gymnasium = pytest.importorskip("gymnasium")
    import liquidcontrol.envs  # noqa: F401

    if "liquidcontrol/Parking-v0" not in gymnasium.registry:
        pytest.skip("the parking env is not registered")
    from liquidcontrol.envs.parking import ParkingEnv
    from liquidcontrol.policies.registry import make_policy

    from liquidcontrol.export.cli import _env_layouts

    layouts = _env_layouts("liquidcontrol/Parking-v0")
    assert layouts["observation"] == ParkingEnv.observation_layout
    obs_dim, act_dim = len(layouts["observation"]), len(layouts["action"])
    from liquidcontrol.train.checkpoint import save_checkpoint

    # What DAgger and BC record: the task, not an env id.
    save_checkpoint(tmp_path / "ckpt", make_policy("gru", obs_dim, act_dim), {"recipe": {"task": "parking"}})
    assert cli_main(["export", str(tmp_path / "ckpt"), "--out", str(tmp_path / "out"), "--exporter", "torchscript"]) == 0
    card = load_card(tmp_path / "out")
    assert card.env_id == "liquidcontrol/Parking-v0" and card.task == "parking"
    assert card.inputs[0]["layout"] == ParkingEnv.observation_layout
    action = card.action
    assert [{k: a[k] for k in e} for a, e in zip(action, ParkingEnv.action_layout)] == ParkingEnv.action_layout
    assert all("low" in a and "high" in a for a in action)


# -- Dict observations ------------------------------------------------------------------
VECTOR_SPEC = [{"key": "speed", "dtype": "float32", "shape": [2]}, {"key": "pose", "dtype": "float32", "shape": [3]}]


def _dict_policy(spec):
    from liquidcontrol.policies.registry import make_policy

    torch.manual_seed(0)
    policy = make_policy("cfc-ncp", 0, ACT_DIM, units=10, seed=0, obs_spec=spec)
    rng = np.random.default_rng(0)
    stats = {s["key"]: (rng.normal(0, 1, s["shape"][0]), rng.uniform(0.1, 2.0, s["shape"][0]))
             for s in spec if s["dtype"] == "float32"}
    policy.set_obs_stats(stats)
    return policy.eval()


def test_dict_policy_card_and_both_backends(tmp_path) -> None:
    """Vector-only Dict observation: card inputs per key; numpy (concatenated inputs, with the
    clip) and onnxruntime match torch, also 1e6 sigma out."""
    from liquidcontrol.runtime import PolicyRunner

    policy = _dict_policy(VECTOR_SPEC)
    layouts = {"speed": [{"name": "v", "unit": "m/s"}, {"name": "w", "unit": "rad/s"}]}
    card = save_bundle(tmp_path / "b", policy, {"env_id": "test/Dict-v0", "observation": layouts},
                       exporter="torchscript")
    data = json.loads((tmp_path / "b" / "card.json").read_text())
    assert [i["name"] for i in data["inputs"]] == ["obs_pose", "obs_speed"]
    assert data["inputs"][1]["layout"] == layouts["speed"]
    assert [e["name"] for e in data["inputs"][0]["layout"]] == ["pose_0", "pose_1", "pose_2"]
    assert data["onnx"]["inputs"] == ["obs_pose", "obs_speed", "state", "dt"]
    assert card.obs_dim == 5 and card.observation["speed"] == layouts["speed"]
    runners = [PolicyRunner(tmp_path / "b", backend=b) for b in ("onnxruntime", "numpy")]
    rng = np.random.default_rng(1)
    state = policy.initial_state(1)
    for t in range(6):
        obs = {"pose": rng.standard_normal(3).astype(np.float32), "speed": rng.standard_normal(2).astype(np.float32)}
        if t % 2:
            obs["pose"][t % 3] = 1e6 * (-1) ** t
        with torch.no_grad():
            ref, state = policy({k: torch.from_numpy(v[None]) for k, v in obs.items()}, state, torch.full((1, 1), 0.05))
        for runner in runners:
            assert np.abs(runner.step(obs) - ref.numpy()[0]).max() <= 1e-5, runner.backend


def test_image_policy_bundle_has_no_numpy_weights(tmp_path) -> None:
    from liquidcontrol.runtime import PolicyRunner

    spec = [{"key": "image", "dtype": "uint8", "shape": [8, 8, 3]}, {"key": "speed", "dtype": "float32", "shape": [1]}]
    policy = _dict_policy(spec)
    save_bundle(tmp_path / "b", policy, {"env_id": "test/Dict-v0", "observation": {"image": None}},
                exporter="torchscript")
    assert not (tmp_path / "b" / "weights.npz").exists()
    card = load_card(tmp_path / "b")
    assert card.inputs[0]["layout"] == {"kind": "image", "channels": "RGB"} and card.obs_dim == 1
    obs = {"image": np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8),
           "speed": np.array([0.2], np.float32)}
    with torch.no_grad():
        ref, _ = policy({k: torch.from_numpy(v[None]) for k, v in obs.items()}, policy.initial_state(1),
                        torch.full((1, 1), 0.05))
    np.testing.assert_allclose(PolicyRunner(tmp_path / "b").step(obs), ref.numpy()[0], atol=1e-5)
    with pytest.raises(LiquidControlError, match="use backend='onnxruntime'"):
        PolicyRunner(tmp_path / "b", backend="numpy")


# -- writing as a whole -----------------------------------------------------------------
def _snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("target", ["export_onnx", "numpy_program", "save_weights", "manifest_text", "swap"])
def test_failed_save_leaves_the_previous_bundle_intact(tmp_path, monkeypatch, target) -> None:
    from liquidcontrol import fileio
    from liquidcontrol.export import bundle as bundle_mod
    from liquidcontrol.runtime import PolicyRunner

    folder = tmp_path / "b"
    save_bundle(folder, random_policy("gru"), {"env_id": "test/Old-v0"}, exporter="torchscript")
    before = _snapshot(folder)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt("killed mid-write")

    if target == "swap":  # the new folder is complete, the final rename fails
        real_rename = fileio.os.rename

        def rename(src, dst):
            if str(src).endswith(".tmp"):
                raise OSError(28, "No space left on device")
            return real_rename(src, dst)

        monkeypatch.setattr(fileio.os, "rename", rename)
    else:
        monkeypatch.setattr(bundle_mod, target, killed)
    with pytest.raises((KeyboardInterrupt, LiquidControlError)):
        save_bundle(folder, random_policy("lstm"), {"env_id": "test/New-v0"}, exporter="torchscript")
    monkeypatch.undo()
    assert _snapshot(folder) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"], "temporary folders left behind"
    for backend in ("onnxruntime", "numpy"):
        runner = PolicyRunner(folder, backend=backend)
        assert runner.card.env_id == "test/Old-v0" and np.isfinite(runner.step(np.zeros(OBS_DIM))).all()


def test_save_replaces_a_bundle_whole(tmp_path) -> None:
    folder = tmp_path / "b"
    save_bundle(folder, random_policy("gru"), {"env_id": "test/Old-v0"}, exporter="torchscript")
    (folder / "weights.npz").unlink()  # an old, incomplete bundle
    save_bundle(folder, random_policy("mlp"), {"env_id": "test/New-v0"}, exporter="torchscript")
    assert load_card(folder).model_kind == "mlp" and (folder / "weights.npz").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]


def test_save_refuses_to_replace_a_folder_with_other_files(tmp_path) -> None:
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(LiquidControlError, match="not part of a policy bundle \\(notes.txt\\)"):
        save_bundle(tmp_path, random_policy("gru"), {"env_id": "x"}, exporter="torchscript")
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_update_bundle_card_keeps_the_graph_and_rewrites_the_rest(bundle, tmp_path) -> None:
    import shutil

    from liquidcontrol.export.bundle import update_bundle_card
    from liquidcontrol.runtime import PolicyRunner

    folder = shutil.copytree(bundle[0], tmp_path / "b")
    before = onnx.load(str(folder / "policy.onnx"))
    weights = {n: (folder / n).read_bytes() for n in ("weights.npz", "weights.safetensors")}
    new = update_bundle_card(folder, evaluation={"success_rate": 0.99, "episodes": 500}, training={"algo": "bc"})
    after = onnx.load(str(folder / "policy.onnx"))
    assert after.graph.SerializeToString() == before.graph.SerializeToString()
    assert list(after.opset_import) == list(before.opset_import) and after.ir_version == before.ir_version
    assert read_embedded_card(folder / "policy.onnx") == new == load_card(folder)
    assert new.evaluation == {"success_rate": 0.99, "episodes": 500} and new.training == {"algo": "bc"}
    assert new.env_id == FIELDS["env_id"] and new.task == "parking"  # everything else kept
    assert {n: (folder / n).read_bytes() for n in weights} == weights
    runner = PolicyRunner(folder, backend="onnxruntime")  # manifest and embedded card agree
    assert np.isfinite(runner.step(np.zeros(OBS_DIM))).all()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]


def test_update_bundle_card_refuses_a_modified_bundle_and_bad_values(bundle, tmp_path) -> None:
    import shutil

    from liquidcontrol.export.bundle import update_bundle_card

    folder = shutil.copytree(bundle[0], tmp_path / "b")
    before = _snapshot(folder)
    with pytest.raises(LiquidControlError, match="evaluation must be a dict"):
        update_bundle_card(folder, evaluation=[1])  # type: ignore[arg-type]
    with pytest.raises(LiquidControlError, match="evaluation is not strict JSON"):
        update_bundle_card(folder, evaluation={"x": float("inf")})
    data = bytearray((folder / "weights.npz").read_bytes())
    data[100] ^= 1
    (folder / "weights.npz").write_bytes(bytes(data))
    with pytest.raises(LiquidControlError, match="weights.npz does not match its sha256"):
        update_bundle_card(folder, evaluation={"x": 1})
    assert _snapshot(folder) == {**before, "weights.npz": bytes(data)}


def test_update_bundle_card_on_a_failed_write_keeps_the_old_bundle(bundle, tmp_path, monkeypatch) -> None:
    import shutil

    from liquidcontrol.export import bundle as bundle_mod
    from liquidcontrol.export.bundle import update_bundle_card

    folder = shutil.copytree(bundle[0], tmp_path / "b")
    before = _snapshot(folder)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt("killed mid-write")

    monkeypatch.setattr(bundle_mod, "manifest_text", killed)
    with pytest.raises(KeyboardInterrupt):
        update_bundle_card(folder, evaluation={"x": 1})
    assert _snapshot(folder) == before and sorted(p.name for p in tmp_path.iterdir()) == ["b"]
