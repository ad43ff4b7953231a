"""Card schema v2: round trip, v1 conversion, strict JSON, one clear error per kind of damage."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.runtime.card import PolicyCard, image_input, load_card, vector_input

PRETRAINED = Path(__file__).resolve().parents[2] / "policies" / "pretrained"


def make_card(**kw) -> PolicyCard:
    base = dict(env_id="liquidcontrol/Parking-v0", model_kind="cfc-ncp", act_dim=2, state_dim=12,
                control_period_s=0.05, model_config={"obs_dim": 3, "act_dim": 2}, inputs=[vector_input(3)])
    return PolicyCard(**{**base, **kw})


def dict_card() -> PolicyCard:
    speed = [{"name": "speed", "unit": "m/s", "scale": 2.0, "fail_value": "hold"}]
    return make_card(inputs=[image_input("image", 4, 4), vector_input(1, speed, key="speed")],
                     model_config={"act_dim": 2}, task="toy",
                     action=[{"name": "steer", "unit": "rad", "scale": 0.38, "low": -1.0, "high": 1.0},
                             {"name": "speed", "unit": "m/s", "scale": 0.5, "low": 0.0, "high": None}])


def one_sentence(exc: pytest.ExceptionInfo) -> None:
    text = str(exc.value)
    assert "\n" not in text and text.endswith(".") and len(text) < 320, text


def test_round_trip(tmp_path) -> None:
    card = make_card(neurons={"inter": 6, "command": 4, "motor": 2, "total": 12}, wiring_seed=22222,
                     parameter_count=592, trainable_parameter_count=400,
                     training={"algo": "dagger"}, evaluation={"success": 0.8})
    (tmp_path / "card.json").write_text(card.to_json())
    again = load_card(tmp_path)
    assert again == card
    data = json.loads(card.to_json())
    assert data["format_version"] == 2 and "obs_dim" not in data and "observation" not in data
    assert data["model"]["kind"] == "cfc-ncp" and data["onnx"]["inputs"] == ["obs", "state", "dt"]
    assert data["model"]["trainable_parameter_count"] == 400
    assert data["inputs"] == [{"name": "obs", "key": None, "dtype": "float32", "shape": [3],
                               "layout": [{"name": f"obs_{i}", "unit": ""} for i in range(3)]}]
    assert data["action"][0] == {"name": "action_0", "unit": "", "scale": 1.0, "low": None, "high": None}
    assert card.obs_dim == 3 and card.observation == data["inputs"][0]["layout"]
    assert card.action_bounds() is None


def test_dict_card_round_trip_and_accessors() -> None:
    card = dict_card()
    data = json.loads(card.to_json())
    assert data["task"] == "toy"
    assert [i["name"] for i in data["inputs"]] == ["obs_image", "obs_speed"]
    assert data["inputs"][0] == {"name": "obs_image", "key": "image", "dtype": "uint8", "shape": [4, 4, 3],
                                 "layout": {"kind": "image", "channels": "RGB"}}
    assert data["inputs"][1]["layout"][0]["fail_value"] == "hold"  # extra keys kept verbatim
    assert data["onnx"]["inputs"] == ["obs_image", "obs_speed", "state", "dt"]
    again = PolicyCard.from_json(card.to_json())
    assert again == card
    assert again.obs_dim == 1 and again.is_dict and again.obs_inputs() == ["obs_image", "obs_speed"]
    assert [i["key"] for i in again.image_inputs()] == ["image"]
    assert again.observation == {"image": {"kind": "image", "channels": "RGB"}, "speed": data["inputs"][1]["layout"]}
    assert again.action_bounds() == ([-1.0, 0.0], [1.0, float("inf")])
    assert again.action_scale() == [0.38, 0.5]


def test_v1_card_converts_on_read() -> None:
    v1 = json.loads((Path(__file__).parent / "data" / "parking_card_v1.json").read_text())
    assert v1["format_version"] == 1
    card = PolicyCard.from_dict(copy.deepcopy(v1))
    assert card.format_version == 2 and card.obs_dim == v1["obs_dim"] == 14
    assert card.inputs == [{"name": "obs", "key": None, "dtype": "float32", "shape": [14], "layout": v1["observation"]}]
    assert card.observation == v1["observation"]
    assert [(a["low"], a["high"]) for a in card.action] == [(None, None)] * 2
    assert card.onnx_inputs == ["obs", "state", "dt"] and card.trainable_parameter_count is None
    assert card.evaluation == v1["evaluation"] and card.training == v1["training"]
    # ... and written back as v2, which reads back equal.
    assert PolicyCard.from_json(card.to_json()) == card


def _damaged(**changes) -> dict:
    data = make_card().to_dict()
    for key, value in changes.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    return data


def _v1(**changes) -> dict:
    data = json.loads((Path(__file__).parent / "data" / "parking_card_v1.json").read_text())
    data.update(changes)
    return data


BIG = 10 ** 30


@pytest.mark.parametrize("data, match", [
    (_damaged(env_id=None), "missing the required field 'env_id'"),
    (_damaged(env_id=3), "'env_id' should be a string"),
    (_damaged(act_dim="3"), "'act_dim' should be an integer"),
    (_damaged(act_dim=True), "'act_dim' should be an integer"),
    (_damaged(act_dim=0), "act_dim must be a positive integer"),
    (_damaged(act_dim=BIG), "act_dim must be a positive integer of at most"),
    (_damaged(state_dim=-1), "state_dim must be zero or a positive integer"),
    (_damaged(state_dim=BIG), "state_dim must be zero or a positive integer of at most"),
    (_damaged(format_version=99), "format_version 99; this liquidcontrol reads versions 1 and 2"),
    (_damaged(format_version="2"), "'format_version' should be an integer"),
    (_damaged(control_period_s=-1), "control_period_s must be a finite number"),
    (_damaged(control_period_s=0), "control_period_s must be a finite number"),
    (_damaged(control_period_s=1e308), "control_period_s must be a finite number of seconds in"),
    (_damaged(control_period_s="0.05"), "'control_period_s' should be a number"),
    (_damaged(training=5), "'training' should be an object or null"),
    (_damaged(training="dagger"), "'training' should be an object or null"),
    (_damaged(evaluation=[0.9]), "'evaluation' should be an object or null"),
    (_damaged(evaluation=1.5), "'evaluation' should be an object or null"),
    (_damaged(task=7), "'task' should be a string or null"),
    (_damaged(inputs={"obs": 3}), "'inputs' should be a list"),
    (_damaged(inputs=[]), "inputs must list 1 to"),
    (_damaged(inputs=[5]), "input 0 must be an object"),
    (_damaged(inputs=[{**vector_input(3), "shape": [3.0]}]), "shape must be \\[n\\]"),
    (_damaged(inputs=[{**vector_input(3), "shape": [BIG]}]), "shape must be \\[n\\]"),
    (_damaged(inputs=[{**vector_input(3), "dtype": "float64"}]), "dtype 'float64'"),
    (_damaged(inputs=[vector_input(2)]), "obs layout has 2 entries but the width is 3|model config says 3"),
    (_damaged(inputs=[{**vector_input(3), "layout": {"a": 1}}]), "obs layout should be a list"),
    (_damaged(inputs=[{**vector_input(3), "layout": [{"name": "x", "unit": 1}] * 3}]), "'unit' \\(strings\\)"),
    (_damaged(inputs=[{**vector_input(3), "key": "a"}]), "must be named 'obs_a'"),
    (_damaged(inputs=[image_input("b", 4, 4), image_input("a", 4, 4)]), "sorted by key"),
    (_damaged(inputs=[{**image_input("a", 4, 4), "shape": [4, 4, 4]}]), "\\[H, W, 3\\]"),
    (_damaged(inputs=[{**image_input("a", 4, 4), "layout": [1]}]), "\"kind\": \"image\""),
    (_damaged(action=[{"name": "x", "unit": "m"}]), "action layout has 1 entries"),
    (_damaged(action=[{"name": "a"}, {"name": "b"}]), "must be an object with a 'name' and a 'unit'"),
    (_damaged(action=[{"name": "a", "unit": "", "scale": "big"}] * 2), "field scale must be a finite number"),
    (_damaged(action=[{"name": "a", "unit": "", "low": 1.0, "high": -1.0}] * 2), "low 1.0 above high -1.0"),
    (_damaged(action=[{"name": "a", "unit": "", "low": "x"}] * 2), "field low must be a finite number or null"),
    (_damaged(model={"kind": "transformer", "config": {}}), "unknown model kind 'transformer'"),
    (_damaged(model={"kind": "cfc", "config": {"obs_dim": 4}}), "model config says 4"),
    (_damaged(model={"kind": "cfc", "config": {"act_dim": "2"}}), "model config says '2'"),
    (_damaged(model={"kind": "cfc", "config": {}, "neurons": 5}), "'neurons' should be an object or null"),
    (_damaged(model={"kind": "cfc", "config": {}, "neurons": {"a": -1}}), "neurons\\['a'\\] must be a count"),
    (_damaged(model={"kind": "cfc", "config": {}, "wiring_seed": "s"}), "'wiring_seed' should be an integer or null"),
    (_damaged(model={"kind": "cfc", "config": {}, "parameter_count": -3}), "parameter_count must be zero or"),
    (_damaged(model="cfc"), "'model' should be an object"),
    (_damaged(onnx={"inputs": ["x", "state", "dt"], "outputs": ["action", "state_out"]}), "ONNX inputs"),
    (_damaged(onnx={"inputs": ["obs", "state", "dt"], "outputs": ["y"]}), "ONNX outputs"),
    (_damaged(onnx=None), "missing the required field 'onnx'"),
    (_v1(obs_dim="14"), "'obs_dim' should be an integer"),
    (_v1(obs_dim=0), "obs_dim must be a positive integer"),
    (_v1(observation={"x": 1}), "'observation' should be a list"),
    (_v1(training=3), "'training' should be an object or null"),
    (_v1(control_period_s=1e308), "control_period_s must be a finite number"),
])
def test_bad_card(data, match) -> None:
    with pytest.raises(LiquidControlError, match=match) as exc:
        PolicyCard.from_dict(data)
    one_sentence(exc)


def test_not_an_object() -> None:
    with pytest.raises(LiquidControlError, match="JSON object"):
        PolicyCard.from_json("[1, 2]")


@pytest.mark.parametrize("text, match", [
    ('{"format_version": NaN}', "not strict JSON: the token NaN"),
    ('{"format_version": 2, "evaluation": {"x": Infinity}}', "not strict JSON: the token Infinity"),
    ('{"format_version": 2, "evaluation": {"x": -Infinity}}', "not strict JSON"),
    ('{"format_version": 2, "control_period_s": 1e400}', "overflows to infinity"),
    ('{"a": ' + "1" * 5000 + "}", "cannot be parsed"),
    ("[" * 100_000 + "]" * 100_000, "cannot be parsed|not valid JSON"),
    ("{not json", "not valid JSON"),
])
def test_strict_json_reading(text, match) -> None:
    with pytest.raises(LiquidControlError, match=match) as exc:
        PolicyCard.from_json(text)
    one_sentence(exc)


def test_writing_refuses_nan_and_non_json_values() -> None:
    with pytest.raises(LiquidControlError, match="evaluation is not strict JSON") as exc:
        make_card(evaluation={"success": float("nan")}).to_json()
    one_sentence(exc)
    with pytest.raises(LiquidControlError, match="training is not strict JSON"):
        make_card(training={"when": object()}).validate()
    with pytest.raises(LiquidControlError, match="cards are written as version 2"):
        make_card(format_version=1).validate()


def test_missing_card_file(tmp_path) -> None:
    with pytest.raises(LiquidControlError, match="no policy card"):
        load_card(tmp_path)


def test_load_card_checks_the_manifest(tmp_path) -> None:
    from liquidcontrol.runtime.manifest import write_manifest

    (tmp_path / "card.json").write_text(make_card().to_json())
    write_manifest(tmp_path)
    assert load_card(tmp_path) == make_card()
    (tmp_path / "card.json").write_text(make_card(env_id="other").to_json())
    with pytest.raises(LiquidControlError, match="incomplete or modified: card.json does not match its sha256") as exc:
        load_card(tmp_path)
    one_sentence(exc)
