"""Start-up checks of policy_node's parameters against the bundle's card: one clear sentence each."""

from __future__ import annotations

import math

import pytest
from conftest import PARKING_BUNDLE, parking_params
from liquidcontrol_ros.config import group
from liquidcontrol_ros.core import PolicyCore

from liquidcontrol.errors import LiquidControlError


def _error(params) -> str:
    with pytest.raises(LiquidControlError) as info:
        PolicyCore(params)
    text = str(info.value)
    assert "\n" not in text and text.endswith(".")
    return text


def test_the_parking_mapping_binds_every_card_channel():
    core = PolicyCore(parking_params())
    assert [c.name for c in core.config.channels] == [e["name"] for e in core.card.inputs[0]["layout"]]
    assert set(core.config.topics()) == {"odom", "joint_states"} | {f"range/{r}" for r in (
        "front", "front_left", "left", "rear_left", "rear", "rear_right", "right", "front_right")}
    assert core.period == 0.05 and core.config.command.fields == ["angular.z", "linear.x"]


def test_bad_bundle_path(tmp_path):
    missing = tmp_path / "nope"
    assert str(missing) in _error(parking_params(bundle=str(missing)))


def test_corrupt_bundle(tmp_path):
    (tmp_path / "card.json").write_text("{not json")
    assert "not valid JSON" in _error(parking_params(bundle=str(tmp_path)))


def test_empty_bundle_parameter():
    assert "parameter bundle must be a non-empty string" in _error(parking_params(bundle=""))


def test_card_channel_without_a_topic():
    params = {k: v for k, v in parking_params().items() if not k.startswith("inputs.range_rear.")}
    text = _error(params)
    assert "'range_rear'" in text and "no source" in text


def test_mapping_a_channel_the_card_lacks():
    text = _error(parking_params(**{"inputs.altitude.topic": "baro", "inputs.altitude.type": "std_msgs/msg/Float32",
                                   "inputs.altitude.field": "data"}))
    assert "'altitude'" in text and "no such channel" in text


def test_unit_mismatch():
    text = _error(parking_params(**{"inputs.steering.unit": "deg"}))
    assert "'deg'" in text and "'rad'" in text


@pytest.mark.parametrize(("key", "value", "words"), [
    ("inputs.x.field", "pose..position", "not a field path"),
    ("inputs.x.field", "pose.pose.position.x[a]", "not a field path"),
    ("inputs.x.transform", "deg2rad", "unknown transform"),
    ("inputs.x.type", "Odometry", "needs a message type"),
    ("inputs.x.topic", "", "needs a topic name"),
    ("inputs.x.colour", "red", "unknown setting"),
    ("inputs.x.transform", "range", "no limits"),
    ("inputs.y.type", "geometry_msgs/msg/PoseStamped", "two message types"),
    ("timeout", 0.0, "parameter timeout"),
    ("timeout", math.nan, "parameter timeout"),
    ("timeout", -1.0, "parameter timeout"),
    ("max_dt", "1", "parameter max_dt"),
    ("check_stamps", "yes", "check_stamps"),
    ("backend", "tensorrt", "parameter backend"),
    ("timout", 0.5, "unknown parameter timout"),
    ("command.type", "ackermann", "parameter command.type"),
    ("command.fields.speed", "linear.w", "must be one of"),
    ("command.fields.speed", "angular.z", "two actions"),
    ("command.fields.throttle", "linear.y", "maps action 'throttle'"),
    ("command.fields.speed", None, "has no command field"),
    ("command.stop", [0.0], "command.stop must list 2"),
    ("command.stop", [0.0, math.inf], "command.stop must list 2"),
    ("command.stamp", "later", "parameter command.stamp"),
    ("command.rate", 20, "unknown parameter command.rate"),
])
def test_each_bad_parameter_gets_one_sentence(key, value, words):
    assert words in _error(parking_params(**{key: value}))


def test_float32_array_command_fields():
    core = PolicyCore(parking_params(**{"command.type": "float32_array", "command.fields.steering": "data[0]",
                                        "command.fields.speed": "data[1]"}))
    assert core.config.command.fields == ["data[0]", "data[1]"]
    assert "'data[<index>]'" in _error(parking_params(**{"command.type": "float32_array"}))


def test_group_splits_on_the_last_dot():
    assert group({"inputs.a.b.topic": 1, "inputs.c.field": 2, "other": 3}, "inputs") == {
        "a.b": {"topic": 1}, "c": {"field": 2}}
    with pytest.raises(LiquidControlError, match="not of the form"):
        group({"inputs.topic": 1}, "inputs")


def test_the_shipped_bundle_path_exists():
    assert (PARKING_BUNDLE / "card.json").is_file()
