"""ROS 2 bags as demonstrations: record in sim -> read -> train, and one clear error per bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from liquidcontrol.bags import layout_names, load_bag_demos
from liquidcontrol.bags.mapping import (
    generic_mapping,
    load_mapping,
    parse_mapping,
    shipped_mappings,
)
from liquidcontrol.bags.reader import read_bag
from liquidcontrol.bags.record import RecordConfig, record
from liquidcontrol.bags.writer import round_trip_error, write_bag
from liquidcontrol.cli import main
from liquidcontrol.errors import LiquidControlError
from liquidcontrol.seeds import training_seeds
from liquidcontrol.tasks import get_task
from liquidcontrol.train.bc import BCConfig
from liquidcontrol.train.bc import train as train_bc
from liquidcontrol.train.collect import collect_episodes
from liquidcontrol.train.dagger import DaggerConfig
from liquidcontrol.train.dagger import train as train_dagger
from liquidcontrol.train.data import Demonstrations, Episode

EPISODES = 3
OBS, ACT = ["a", "b", "c"], ["u", "v"]


@pytest.fixture(scope="module")
def parking_bag(tmp_path_factory) -> tuple[Path, Demonstrations]:
    """A bag recorded by ``liquidcontrol record`` and the native demos of the same seeds."""
    folder = tmp_path_factory.mktemp("bags") / "parking_bag"
    record(RecordConfig(task="parking", episodes=EPISODES, out=str(folder), progress=False))
    task = get_task("parking")
    native, _ = collect_episodes(task, training_seeds(0, 0, EPISODES), action_noise=task.recipe["demo_noise"],
                                 progress=False)
    return folder, native


def _topics(folder: Path) -> dict[str, str]:
    from rosbags.rosbag2 import Reader

    with Reader(folder) as reader:
        return {c.topic: c.msgtype for c in reader.connections}


def test_parking_bag_uses_standard_messages(parking_bag):
    folder, _ = parking_bag
    topics = _topics(folder)
    assert topics["/odom"] == "nav_msgs/msg/Odometry"
    assert topics["/cmd_vel"] == "geometry_msgs/msg/TwistStamped"
    assert topics["/joint_states"] == "sensor_msgs/msg/JointState"
    assert sum(t == "sensor_msgs/msg/Range" for t in topics.values()) == 8
    assert (folder / "metadata.yaml").is_file() and list(folder.glob("*.mcap"))


def test_bag_reads_back_exactly_the_native_demonstrations(parking_bag):
    folder, native = parking_bag
    from_bag = load_bag_demos(folder, progress=False)
    diff = round_trip_error(native, from_bag)
    assert diff["identical"], diff
    assert diff["episodes"] == [EPISODES, EPISODES] and from_bag.meta["task"] == "parking"
    # The bare .mcap file of the bag reads the same.
    mcap = next(folder.glob("*.mcap"))
    assert round_trip_error(native, load_bag_demos(mcap, progress=False))["identical"]


def test_command_stamps_are_sim_time_and_commands_are_si(parking_bag):
    from rosbags.rosbag2 import Reader

    from liquidcontrol.bags.messages import typestore

    folder, native = parking_bag
    store = typestore()
    with Reader(folder) as reader:
        conns = [c for c in reader.connections if c.topic == "/cmd_vel"]
        msgs = [(t, store.deserialize_cdr(d, c.msgtype)) for c, t, d in reader.messages(connections=conns)]
    first = native.episodes[0]
    stamps = np.array([m.header.stamp.sec * 10**9 + m.header.stamp.nanosec for _, m in msgs[: len(first)]])
    assert np.all(np.diff(stamps) == 50_000_000)  # 20 Hz sim clock, in whole microseconds
    assert [t for t, _ in msgs[: len(first)]] == stamps.tolist()  # log time = header stamp
    speed = np.array([m.twist.linear.x for _, m in msgs[: len(first)]])
    steer = np.array([m.twist.angular.z for _, m in msgs[: len(first)]])
    np.testing.assert_allclose(speed, first.act[:, 1] * 0.5, rtol=1e-6)  # m/s
    np.testing.assert_allclose(steer, first.act[:, 0] * 0.38, rtol=1e-6)  # rad


def test_bc_from_bag_trains_the_same_policy_as_from_npz(parking_bag, tmp_path):
    folder, native = parking_bag
    npz = native.save(tmp_path / "demos.npz")
    kw = dict(epochs=2, seed=3, task="parking")
    a = train_bc(BCConfig(demos=str(folder), out=str(tmp_path / "bag"), **kw))
    b = train_bc(BCConfig(demos=str(npz), out=str(tmp_path / "npz"), **kw))
    assert a["final_loss"] == b["final_loss"]
    assert ((tmp_path / "bag" / "checkpoint" / "policy.safetensors").read_bytes()
            == (tmp_path / "npz" / "checkpoint" / "policy.safetensors").read_bytes())


def test_dagger_clones_from_a_bag(parking_bag, tmp_path):
    folder, native = parking_bag
    tiny = dict(bc_epochs=1, iterations=0, validation_episodes=2, n_envs=2, progress=False)
    train_dagger(DaggerConfig(demos=str(folder), out=str(tmp_path / "run"), **tiny))
    saved = Demonstrations.load(tmp_path / "run" / "data" / "iter_000.npz")
    assert round_trip_error(native, saved)["identical"]
    with pytest.raises(LiquidControlError, match="not 'drone'"):
        train_dagger(DaggerConfig(task="drone", demos=str(tmp_path / "run" / "data" / "iter_000.npz"),
                                  out=str(tmp_path / "other"), **tiny))


def test_shipped_parking_mapping_matches_the_env_layout():
    obs, act = layout_names(get_task("parking"))
    names = dict(shipped_mappings())
    parking = names["parking.yaml"]
    assert [c.name for c in parking.observation] == obs and [c.name for c in parking.action] == act


# -- synthetic bags for the error cases ------------------------------------------
def _demos(n_episodes: int = 2, steps: int = 5, nan_at: tuple[int, int] | None = None) -> Demonstrations:
    rng = np.random.default_rng(0)
    eps = []
    for _ in range(n_episodes):
        obs = rng.normal(size=(steps, len(OBS))).astype(np.float32)
        if nan_at is not None:
            obs[nan_at] = np.nan
        eps.append(Episode(obs, rng.uniform(-1, 1, (steps, len(ACT))).astype(np.float32),
                           np.full(steps, 0.05, np.float32)))
    return Demonstrations(episodes=eps)  # built directly: add() would refuse the NaN case


@pytest.fixture()
def small_bag(tmp_path) -> tuple[Path, Demonstrations]:
    demos = _demos()
    folder = write_bag(tmp_path / "small", demos, generic_mapping(OBS, ACT), OBS, ACT, progress=False)
    return folder, demos


def test_generic_bag_round_trips(small_bag):
    folder, demos = small_bag
    back = read_bag(folder, None, OBS, ACT, progress=False)
    assert round_trip_error(demos, back)["identical"]


def test_episodes_by_clock_gap_for_bags_without_markers(small_bag, tmp_path):
    folder, demos = small_bag
    data = generic_mapping(OBS, ACT).to_dict()
    data["episodes"] = {"gap_s": 0.5}
    back = read_bag(folder, parse_mapping(data), OBS, ACT, progress=False)
    assert round_trip_error(demos, back)["identical"]
    data["episodes"] = {"gap_s": 10.0}  # pauses of 1 s no longer split: one long episode
    assert len(read_bag(folder, parse_mapping(data), OBS, ACT, progress=False)) == 1


def _mapping_file(tmp_path: Path, edit) -> Path:
    data = generic_mapping(OBS, ACT).to_dict()
    edit(data)
    path = tmp_path / "mapping.json"
    path.write_text(json.dumps(data))
    return path


def test_missing_topic_is_one_sentence(small_bag, tmp_path):
    folder, _ = small_bag

    def edit(d):
        d["topics"]["/robot/odom"] = {"type": "nav_msgs/msg/Odometry"}
        d["observation"][1] = {"name": "b", "topic": "/robot/odom", "field": "pose.pose.position.x"}

    with pytest.raises(LiquidControlError, match=r"has no topic /robot/odom .*its topics: /liquidcontrol/action"):
        read_bag(folder, load_mapping(_mapping_file(tmp_path, edit)), OBS, ACT, progress=False)


@pytest.mark.parametrize("field, message", [
    ("datum[0]", r"has no field datum .*its fields there are layout, data"),
    ("data[7]", r"holds 3 values, so data\[7\] is out of range"),
    ("data", r"is a sequence of 3 values, not one number"),
    ("layout.data_offset[0]", r"is not a sequence"),
])
def test_bad_fields_are_one_sentence(small_bag, tmp_path, field, message):
    folder, _ = small_bag

    def edit(d):
        d["observation"][2]["field"] = field

    with pytest.raises(LiquidControlError, match=message):
        read_bag(folder, load_mapping(_mapping_file(tmp_path, edit)), OBS, ACT, progress=False)


def test_wrong_message_type_and_channel_count(small_bag, tmp_path):
    folder, _ = small_bag

    def wrong_type(d):
        d["topics"]["/liquidcontrol/observation"]["type"] = "std_msgs/msg/Float64MultiArray"

    with pytest.raises(LiquidControlError, match="carries std_msgs/msg/Float32MultiArray, but the mapping expects"):
        read_bag(folder, load_mapping(_mapping_file(tmp_path, wrong_type)), OBS, ACT, progress=False)
    with pytest.raises(LiquidControlError, match="has no observation entry for 'd'"):
        read_bag(folder, None, [*OBS, "d"], ACT, progress=False)
    with pytest.raises(LiquidControlError, match="maps action 'v', which"):
        read_bag(folder, None, OBS, ["u"], progress=False)


def test_nan_in_a_bag_names_channel_and_time(tmp_path):
    folder = write_bag(tmp_path / "nan", _demos(nan_at=(3, 1)), generic_mapping(OBS, ACT), OBS, ACT, progress=False)
    with pytest.raises(LiquidControlError, match=r"'b' \(topic /liquidcontrol/observation, field data\[1\]\) is not "
                                                 r"a finite float32 at 1\.150 s"):
        read_bag(folder, None, OBS, ACT, progress=False)


def test_bad_paths_and_corrupt_bags(small_bag, tmp_path):
    folder, _ = small_bag
    with pytest.raises(LiquidControlError, match="does not exist"):
        read_bag(tmp_path / "nowhere", None, OBS, ACT)
    (tmp_path / "plain").mkdir()
    with pytest.raises(LiquidControlError, match="is not a ROS 2 bag"):
        read_bag(tmp_path / "plain", None, OBS, ACT)
    mcap = next(folder.glob("*.mcap"))
    mcap.write_bytes(mcap.read_bytes()[: mcap.stat().st_size // 2])
    with pytest.raises(LiquidControlError, match="corrupt or truncated|not a readable ROS 2 bag"):
        read_bag(folder, None, OBS, ACT, progress=False)


def test_foreign_bag_needs_a_mapping(small_bag, tmp_path):
    folder, _ = small_bag
    meta = folder / "metadata.yaml"
    text = meta.read_text()
    start = text.index("  custom_data:")
    end = text.index("  duration:")
    meta.write_text(text[:start] + text[end:])  # as a bag recorded by ros2 bag record
    with pytest.raises(LiquidControlError, match="was not recorded by liquidcontrol; pass a mapping file"):
        read_bag(folder, None, OBS, ACT, progress=False)


def test_duplicate_step_stamps_are_refused(tmp_path):
    demos = _demos(n_episodes=1)
    demos.episodes[0].dt[2] = 1e-12  # rounds to the same nanosecond as the step before
    folder = write_bag(tmp_path / "dup", demos, generic_mapping(OBS, ACT), OBS, ACT, progress=False)
    with pytest.raises(LiquidControlError, match="share the stamp"):
        read_bag(folder, None, OBS, ACT, progress=False)


@pytest.mark.parametrize("text, message", [
    ("version: 2", "must say 'version: 1'"),
    ("version: 1\ntopics: [", "is not valid YAML"),
    ("version: 1\ntopics: {/a: {type: Odometry}}", "needs a message type such as"),
    ("version: 1\ntopics: {/a: {type: std_msgs/msg/String}}\nepisodes: {}", "needs 'episodes'"),
])
def test_malformed_mapping_files(tmp_path, text, message):
    path = tmp_path / "m.yaml"
    path.write_text(text)
    with pytest.raises(LiquidControlError, match=message):
        load_mapping(path)


def test_failed_recording_keeps_the_previous_bag(small_bag):
    folder, demos = small_bag
    before = sorted((p.name, p.read_bytes()) for p in folder.iterdir())
    with pytest.raises(LiquidControlError, match="has no observation entry"):
        write_bag(folder, demos, generic_mapping(OBS[:2], ACT), OBS, ACT, progress=False)
    broken = _demos()
    broken.episodes[1].dt[0] = -1.0  # fails after the first episode is written
    with pytest.raises(LiquidControlError, match="episode 1 has a dt that is not a positive number"):
        write_bag(folder, broken, generic_mapping(OBS, ACT), OBS, ACT, progress=False)
    assert sorted((p.name, p.read_bytes()) for p in folder.iterdir()) == before
    assert [p.name for p in folder.parent.iterdir() if p.name.startswith(".")] == []  # no temp folder left


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["train", "bc", "--demos", str(tmp_path), "--mapping", str(tmp_path / "m.yaml"),
                 "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: bag mapping file {tmp_path / 'm.yaml'} does not exist." and "\n" not in err


def test_headings_read_back_as_the_recorded_float32_cos_and_sin():
    from liquidcontrol.bags.messages import _from_quaternion, heading_quaternion

    theta = np.random.default_rng(1).uniform(-np.pi, np.pi, 20_000)
    pairs = np.stack([np.cos(theta), np.sin(theta)], 1).astype(np.float32)  # as an env computes them
    pairs = np.concatenate([pairs, np.float32([[1, 0], [-1, 0], [0, 1], [0, -1]])])
    mismatches, worst_norm = 0, 0.0
    for c, s in pairs:
        q = heading_quaternion(float(c), float(s), None)
        back = np.float32(_from_quaternion("cos_yaw", *q)), np.float32(_from_quaternion("sin_yaw", *q))
        mismatches += back != (c, s)
        worst_norm = max(worst_norm, abs(sum(v * v for v in q) - 1.0))
    assert mismatches == 0
    assert worst_norm <= 1e-6  # unit to float32 precision (tf2 accepts 1e-2)


def test_range_readings_follow_rep_117(tmp_path):
    data = generic_mapping(OBS, ACT).to_dict()
    data["topics"]["/range/front"] = {"type": "sensor_msgs/msg/Range",
                                      "set": {"min_range": 0.05, "max_range": 2.0}}
    data["observation"][0] = {"name": "a", "topic": "/range/front", "field": "range", "convert": "range"}
    mapping = parse_mapping(data)
    demos = _demos(n_episodes=1)
    demos.episodes[0].obs[1, 0], demos.episodes[0].obs[2, 0] = np.inf, -np.inf  # no echo; too close
    folder = write_bag(tmp_path / "ranges", demos, mapping, OBS, ACT, progress=False)
    back = read_bag(folder, None, OBS, ACT, progress=False).episodes[0].obs[:, 0]
    assert back[1] == np.float32(2.0) and back[2] == np.float32(0.05)
    assert np.array_equal(back[[0, 3, 4]], demos.episodes[0].obs[[0, 3, 4], 0])
    data["observation"][0].pop("convert")  # read raw, +inf is refused like NaN
    with pytest.raises(LiquidControlError, match="'a' .* is not a finite float32 at 1.050 s"):
        read_bag(folder, parse_mapping(data), OBS, ACT, progress=False)


def test_roundtrip_refuses_a_work_folder_with_other_files(tmp_path):
    from liquidcontrol.bags.roundtrip import RoundTripConfig, roundtrip

    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(LiquidControlError, match="holds other files"):
        roundtrip(RoundTripConfig(work=str(tmp_path), progress=False))
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_roundtrip_command_trains_both_ways_identically(tmp_path):
    from liquidcontrol.bags.roundtrip import RoundTripConfig, roundtrip

    out = tmp_path / "rt.json"
    summary = roundtrip(RoundTripConfig(demo_episodes=3, bc_epochs=1, iterations=1, episodes_per_iteration=2,
                                        epochs_per_iteration=1, validation_episodes=2, eval_episodes=3,
                                        work=str(tmp_path / "work"), out=str(out), progress=False))
    assert summary["data"]["identical"] and summary["seed_agreement"] == 1.0
    assert summary["native"]["validation_history"] == summary["bag"]["validation_history"]
    assert json.loads(out.read_text())["data"]["identical"] is True


def test_single_mcap_file_records_and_trains_with_the_task_mapping(parking_bag, tmp_path):
    _, native = parking_bag
    out = tmp_path / "demos.mcap"
    out.write_bytes(b"an older recording")
    record(RecordConfig(task="parking", episodes=EPISODES, out=str(out), progress=False))
    assert out.is_file() and sorted(p.name for p in tmp_path.iterdir()) == ["demos.mcap"]  # replaced, no leftovers
    with pytest.raises(LiquidControlError, match="pass --task"):
        load_bag_demos(out, progress=False)
    assert round_trip_error(native, load_bag_demos(out, task_name="parking", progress=False))["identical"]
    (tmp_path / "x.mcap").mkdir()
    with pytest.raises(LiquidControlError, match="is a folder; an .mcap output must be a file name"):
        record(RecordConfig(task="parking", episodes=1, out=str(tmp_path / "x.mcap"), progress=False))
