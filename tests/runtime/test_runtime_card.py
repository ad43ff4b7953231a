"""Card schema: round trip and one clear error per kind of damage."""

from __future__ import annotations

import json

import pytest

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.runtime.card import PolicyCard, load_card


def make_card(**kw) -> PolicyCard:
    base = dict(env_id="liquidcontrol/Parking-v0", model_kind="cfc-ncp", obs_dim=3, act_dim=2,
                state_dim=12, control_period_s=0.05, model_config={"obs_dim": 3, "act_dim": 2})
    return PolicyCard(**{**base, **kw})


def test_round_trip(tmp_path) -> None:
    card = make_card(neurons={"inter": 6, "command": 4, "motor": 2, "total": 12}, wiring_seed=22222,
                     parameter_count=592, training={"algo": "dagger"}, evaluation={"success": 0.8})
    (tmp_path / "card.json").write_text(card.to_json())
    again = load_card(tmp_path)
    assert again == card
    data = json.loads(card.to_json())
    assert data["model"]["kind"] == "cfc-ncp" and data["onnx"]["inputs"] == ["obs", "state", "dt"]
    assert [o["name"] for o in data["observation"]] == ["obs_0", "obs_1", "obs_2"]


def _damaged(**changes) -> dict:
    data = make_card().to_dict()
    for key, value in changes.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    return data


@pytest.mark.parametrize("changes, match", [
    ({"env_id": None}, "missing the required field 'env_id'"),
    ({"obs_dim": "3"}, "'obs_dim' should be int"),
    ({"obs_dim": True}, "'obs_dim' should be int"),
    ({"format_version": 99}, "format_version 99"),
    ({"control_period_s": -1}, "control_period_s"),
    ({"act_dim": 0}, "act_dim must be a positive"),
    ({"observation": [{"name": "x", "unit": "m"}]}, "observation layout has 1 entries"),
    ({"action": [{"name": "a"}, {"name": "b"}]}, "must be an object with a 'name' and a 'unit'"),
    ({"model": {"kind": "transformer", "config": {}}}, "unknown model kind 'transformer'"),
    ({"model": {"kind": "cfc", "config": {"obs_dim": 4}}}, "model config says 4"),
    ({"onnx": {"inputs": ["x", "state", "dt"], "outputs": ["action", "state_out"]}}, "ONNX inputs"),
    ({"onnx": {"inputs": ["obs", "state", "dt"], "outputs": ["y"]}}, "ONNX outputs"),
])
def test_bad_card(changes, match) -> None:
    with pytest.raises(LiquidControlError, match=match) as exc:
        PolicyCard.from_dict(_damaged(**changes))
    assert "\n" not in str(exc.value)


def test_not_an_object() -> None:
    with pytest.raises(LiquidControlError, match="JSON object"):
        PolicyCard.from_json("[1, 2]")


def test_missing_card_file(tmp_path) -> None:
    with pytest.raises(LiquidControlError, match="no policy card"):
        load_card(tmp_path)
