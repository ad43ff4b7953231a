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
    "action": [{"name": "steer", "unit": "rad", "scale": 0.38}, {"name": "speed", "unit": "m/s", "scale": 1.0}],
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
    assert sorted(p.name for p in folder.iterdir()) == ["card.json", "policy.onnx", "weights.npz", "weights.safetensors"]
    loaded = load_card(folder)
    assert loaded == card
    assert loaded.model_kind == "cfc-ncp" and loaded.env_id == FIELDS["env_id"]
    assert (loaded.obs_dim, loaded.act_dim, loaded.state_dim) == (OBS_DIM, ACT_DIM, policy.state_dim)
    assert loaded.parameter_count == policy.num_parameters()
    assert loaded.neurons["total"] == 10 and loaded.neurons.get("motor") == ACT_DIM
    assert loaded.action_scale() == [0.38, 1.0]
    np.load(folder / "weights.npz", allow_pickle=False)  # no pickled objects inside


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
    with pytest.raises(LiquidControlError, match="read from the policy"):
        card_from_policy(random_policy("gru"), obs_dim=3)


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

    save_checkpoint(tmp_path / "ckpt", make_policy("gru", obs_dim, act_dim),
                    {"recipe": {"env_id": "liquidcontrol/Parking-v0"}})
    assert cli_main(["export", str(tmp_path / "ckpt"), "--out", str(tmp_path / "out"), "--exporter", "torchscript"]) == 0
    assert load_card(tmp_path / "out").action == ParkingEnv.action_layout
