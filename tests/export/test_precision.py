"""fp16 and int8 exports: they run in the runtime, stay within their stated tolerance of fp32,
really are lower precision, and the ONNX check gate fails when the tolerance is violated."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from liquidcontrol.cli import main
from liquidcontrol.errors import LiquidControlError
from liquidcontrol.evaluate.onnx_check import PRECISION_TOLERANCE, check_bundle
from liquidcontrol.export import save_bundle
from liquidcontrol.export.bundle import load_policy
from liquidcontrol.runtime import PolicyRunner, load_card
from liquidcontrol.runtime.card import PolicyCard
from liquidcontrol.tasks import get_task

onnx = pytest.importorskip("onnx")

SHIPPED = Path(__file__).resolve().parents[2] / "policies" / "pretrained" / "parking_cfc_ncp12"
EPISODES = 4


@pytest.fixture(scope="module")
def policy():
    return load_policy(SHIPPED)


def _fields() -> dict:
    card = load_card(SHIPPED)
    return {"env_id": card.env_id, "task": card.task, "observation": card.observation, "action": card.action}


@pytest.fixture(scope="module")
def bundles(policy, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("precision")
    out = {}
    for precision in ("fp32", "fp16", "int8"):
        out[precision] = root / precision
        save_bundle(out[precision], policy, _fields(), exporter="torchscript", precision=precision)
    return out


def _closed_loop_obs(n_steps: int = 300) -> np.ndarray:
    """Observations of the shipped policy parking one car (what the runtime really sees)."""
    import gymnasium as gym
    import liquidcontrol.envs  # noqa: F401

    runner = PolicyRunner(SHIPPED, "numpy")
    env = gym.make("liquidcontrol/Parking-v0")
    obs, _ = env.reset(seed=5)
    rows = []
    for _ in range(n_steps):
        rows.append(obs)
        obs, _, term, trunc, _ = env.step(runner.step(obs, 0.05))
        if term or trunc:
            break
    env.close()
    return np.array(rows, np.float32)


def _actions(bundle: Path, observations: np.ndarray) -> np.ndarray:
    runner = PolicyRunner(bundle)
    return np.array([runner.step(o, 0.05) for o in observations])


def test_reduced_precision_graphs_are_what_they_say(bundles):
    fp16 = onnx.load(str(bundles["fp16"] / "policy.onnx"))
    int8 = onnx.load(str(bundles["int8"] / "policy.onnx"))
    weights16 = [t for t in fp16.graph.initializer if len(t.dims) == 2]
    assert weights16 and all(t.data_type == onnx.TensorProto.FLOAT16 for t in weights16)
    assert {"MatMulInteger", "DynamicQuantizeLinear"} <= {n.op_type for n in int8.graph.node}
    for precision, folder in bundles.items():
        card = json.loads((folder / "card.json").read_text())
        assert card["onnx"].get("precision", "fp32") == precision
        assert load_card(folder).onnx_precision == precision
        # Same float32 signature: the runtime's card check accepts every one.
        assert [i.type.tensor_type.elem_type for i in onnx.load(str(folder / "policy.onnx")).graph.input] == [1, 1, 1]
    assert "precision" not in json.loads((bundles["fp32"] / "card.json").read_text())["onnx"]  # fp32 cards unchanged


def test_fp16_and_int8_agree_with_fp32_within_their_tolerance(bundles):
    observations = _closed_loop_obs()
    reference = _actions(bundles["fp32"], observations)
    for precision in ("fp16", "int8"):
        delta = float(np.max(np.abs(_actions(bundles[precision], observations) - reference)))
        assert delta <= PRECISION_TOLERANCE[precision], (precision, delta)
        # Really reduced: a conversion that did nothing would agree to float32 rounding (~1e-6).
        assert delta > 10 * PRECISION_TOLERANCE["fp32"], (precision, delta)


def test_check_passes_with_the_precision_tolerance_and_fails_below_it(policy, bundles):
    task = get_task("parking")
    check = check_bundle(policy, bundles["fp16"], task, EPISODES, n_envs=EPISODES)
    assert check["precision"] == "fp16" and check["action_tolerance"] == PRECISION_TOLERANCE["fp16"]
    assert check["passed"], check
    # The fp32 tolerance on the fp16 graph: the gate must fail.
    strict = check_bundle(policy, bundles["fp16"], task, EPISODES, n_envs=EPISODES,
                          action_tolerance=PRECISION_TOLERANCE["fp32"])
    assert not strict["passed"] and strict["max_abs_action_delta"] > PRECISION_TOLERANCE["fp32"]


def test_export_cli_refuses_a_failing_quantised_bundle_and_keeps_the_old_one(bundles, tmp_path, capsys):
    out = tmp_path / "bundle"
    assert main(["export", str(SHIPPED), "--out", str(out), "--exporter", "torchscript", "--precision", "fp16",
                 "--check-episodes", "2"]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert load_card(out).evaluation["onnx_check"]["passed"] is True
    capsys.readouterr()
    code = main(["export", str(SHIPPED), "--out", str(out), "--exporter", "torchscript", "--precision", "int8",
                 "--check-episodes", "2", "--action-tolerance", "1e-4"])
    err = capsys.readouterr().err
    assert code == 2 and "the int8 export failed the ONNX check against fp32" in err and "left as it was" in err
    assert "does not compute the policy" in err  # the int8 actions are off, not the outcomes
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left


def test_unknown_precision_in_a_card_is_refused():
    data = json.loads((SHIPPED / "card.json").read_text())
    data["onnx"]["precision"] = "int4"
    with pytest.raises(LiquidControlError, match="onnx precision 'int4'; expected one of fp32, fp16, int8"):
        PolicyCard.from_dict(data)
