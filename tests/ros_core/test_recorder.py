"""EpisodeRecorder (the sim bridge's recording of teleoperated episodes) without ROS: the bag it writes
loads with the loader `liquidcontrol train --demos` uses, value for value, with executed (clipped)
actions; tasks it cannot record and a bad output path are one sentence each."""

from __future__ import annotations

import numpy as np
import pytest
from liquidcontrol_ros.recorder import EpisodeRecorder
from liquidcontrol_ros.sim_bridge import DrivingSim, ParkingSim

from liquidcontrol.errors import LiquidControlError

pytest.importorskip("rosbags")


def _play(sim: ParkingSim, recorder: EpisodeRecorder, steps: int, rng: np.random.Generator) -> None:
    """``steps`` steps of random commands (some beyond the action box) on the next seed."""
    sim.start_next()
    for _ in range(steps):
        command = rng.uniform(-0.6, 0.6, size=2)  # rad, m/s: up to 1.6x the steering and 1.2x the speed range
        action = recorder.step(sim.obs, sim.action_from_command(command), sim.period)
        sim.step(action)
    recorder.finish(sim.seed or 0, False)


def test_recorded_episodes_load_back_as_the_same_demonstrations(tmp_path):
    from liquidcontrol.bags import load_bag_demos

    sim = ParkingSim([3, 4])
    out = tmp_path / "teleop_bag"
    recorder = EpisodeRecorder(sim.env, sim.env_id, "parking", str(out))
    rng = np.random.default_rng(0)
    _play(sim, recorder, 30, rng)
    _play(sim, recorder, 20, rng)
    assert recorder.steps == 50
    clipped = np.concatenate([e.act for e in recorder.episodes])
    assert np.abs(clipped).max() == 1.0 and (np.abs(clipped) == 1.0).sum() > 5  # the box clips
    recorder.write()
    demos = load_bag_demos(out, progress=False)
    assert demos.meta["task"] == "parking" and [len(e) for e in demos.episodes] == [30, 20]
    for mine, back in zip(recorder.episodes, demos.episodes):
        np.testing.assert_array_equal(np.asarray(back.obs), mine.obs)
        np.testing.assert_array_equal(np.asarray(back.act), mine.act)
        np.testing.assert_array_equal(np.asarray(back.dt), np.float32(0.05))


def test_a_camera_task_cannot_be_recorded(tmp_path):
    sim = DrivingSim([0])
    with pytest.raises(LiquidControlError, match="has a Dict observation .a camera.; bags carry flat vector"):
        EpisodeRecorder(sim.env, sim.env_id, "driving", str(tmp_path / "bag"))


def test_an_unwritable_bag_path_is_one_error(tmp_path):
    sim = ParkingSim([0])
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    recorder = EpisodeRecorder(sim.env, sim.env_id, "parking", str(blocker / "bag"))
    _play(sim, recorder, 3, np.random.default_rng(1))
    with pytest.raises(LiquidControlError, match=f"cannot write the recording to {blocker / 'bag'}: File exists"):
        recorder.write()


def test_nothing_recorded_is_not_an_episode(tmp_path):
    sim = ParkingSim([0])
    recorder = EpisodeRecorder(sim.env, sim.env_id, "parking", str(tmp_path / "bag"))
    recorder.finish(0, False)
    assert recorder.episodes == [] and recorder.steps == 0
