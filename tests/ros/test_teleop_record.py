"""Teleoperated demonstrations over real ROS 2: sim_bridge_node (realtime, ``record:=BAG``) driven by a
scripted teleop that publishes geometry_msgs/Twist on cmd_vel, as teleop_twist_keyboard does (the
parking expert reading the car's odometry stands in for the human). The bag it writes reads back into
Demonstrations: exactly the observations the bridge published and the commands the teleop sent."""

from __future__ import annotations

import json
import math
import os
import subprocess

import numpy as np
import pytest
from conftest import ROOT, run_node, start_node, stop

SEEDS = [0, 1]
MAX_STEER, MAX_SPEED = 0.38, 0.5


class ScriptedTeleop:
    """Sends the parking expert's command for every odometry message it sees, as an unstamped Twist."""

    def __init__(self, context, seeds: list[int]) -> None:
        import gymnasium as gym
        import liquidcontrol.envs  # noqa: F401
        from geometry_msgs.msg import Twist
        from liquidcontrol.envs.parking_expert import ParallelParkingExpert
        from nav_msgs.msg import Odometry
        from rclpy.node import Node
        from rclpy.qos import qos_profile_sensor_data
        from std_msgs.msg import String

        self.node = Node("scripted_teleop", context=context)
        self.Twist = Twist
        self.expert = ParallelParkingExpert()
        env = gym.make("liquidcontrol/Parking-v0").unwrapped
        self.slots = []
        for seed in seeds:  # what the operator sees: where the slot is
            env.reset(seed=seed)
            self.slots.append(env.slot)
        self.pub = self.node.create_publisher(Twist, "cmd_vel", 10)
        self.seen: list[tuple[float, float, float]] = []   # (x, y, speed) of each odometry message
        self.sent: list[tuple[float, float]] = []          # (steering, speed) in env units
        self.results: list[dict] = []
        self.node.create_subscription(Odometry, "odom", self._on_odom, qos_profile_sensor_data)
        self.node.create_subscription(String, "/sim_bridge/episode", lambda m: self.results.append(json.loads(m.data)), 10)

    def _on_odom(self, msg) -> None:
        if len(self.results) >= len(self.slots):
            return
        p, q = msg.pose.pose.position, msg.pose.pose.orientation
        yaw = 2.0 * math.atan2(q.z, q.w)
        speed = msg.twist.twist.linear.x
        self.seen.append((p.x, p.y, speed))
        steer, throttle = self.expert.act_from_state(p.x, p.y, yaw, speed, self.slots[len(self.results)])
        twist = self.Twist()
        twist.angular.z, twist.linear.x = float(steer) * MAX_STEER, float(throttle) * MAX_SPEED
        self.pub.publish(twist)
        self.sent.append((float(np.float32(twist.angular.z / MAX_STEER)), float(np.float32(twist.linear.x / MAX_SPEED))))


def test_teleop_episodes_are_recorded_as_a_bag_that_reads_back_as_demonstrations(ros_factory, tmp_path):
    from liquidcontrol.bags.reader import bag_metadata, read_bag

    ros = ros_factory()
    teleop = ScriptedTeleop(ros.context, SEEDS)
    ros.add(teleop.node)
    bag = tmp_path / "teleop_bag"
    log = tmp_path / "bridge.log"
    bridge = start_node("sim_bridge_node", "-p", f"seeds:={json.dumps(SEEDS)}", "-p", "mode:=realtime",
                        "-p", "command_type:=twist", "-p", "policy_reset_service:=''", "-p", f"record:={bag}", log=log)
    try:
        assert ros.spin_until(lambda: (bag / "metadata.yaml").exists() or bridge.poll() is not None, 120.0), \
            log.read_text()[-2000:]
    finally:
        stop(bridge)
    text = log.read_text()
    assert bridge.returncode == 0 and "Traceback" not in text, text[-2000:]
    assert f"recorded {len(SEEDS)} episode(s)" in text
    assert [r["seed"] for r in teleop.results] == SEEDS

    # Read as the loader of `train --demos` reads it (with the stored mapping; load_bag_demos itself
    # needs liquidcontrol.export, i.e. torch, for the layout names, so it runs in the training step below).
    mapping, meta = bag_metadata(bag)
    assert mapping is not None and meta["task"] == "parking"
    obs_names = [c.name for c in mapping.observation]
    assert obs_names[:2] == ["x", "y"] and obs_names[4] == "speed"
    demos = read_bag(bag, None, obs_names, [c.name for c in mapping.action], progress=False)
    assert len(demos) == len(SEEDS)
    assert [len(e) for e in demos.episodes] == [r["steps"] for r in teleop.results]
    seen = np.array(teleop.seen, dtype=np.float32)
    sent = np.array(teleop.sent, dtype=np.float32)
    for episode in demos.episodes:
        assert np.all(episode.dt == np.float32(0.05))
        obs, act = np.asarray(episode.obs), np.asarray(episode.act)
        # Every recorded observation is one the bridge published (x, y, speed as the teleop received them).
        gaps = np.abs(obs[:, None, [0, 1, 4]] - seen[None, :, :]).max(axis=2).min(axis=1)
        assert gaps.max() < 1e-6
        # Every recorded action is one the teleop sent (or the idle command after 0.5 s without one).
        gaps = np.abs(act[:, None, :] - sent[None, :, :]).max(axis=2).min(axis=1)
        idle = np.all(act == 0.0, axis=1)
        assert np.all((gaps < 1e-6) | idle) and (gaps >= 1e-6).mean() < 0.05
        assert np.abs(act).max() > 0.5  # it really drove
    print(f"teleop recording: {len(demos)} episodes, {demos.num_steps} steps, "
          f"successes {[r['success'] for r in teleop.results]}")

    # The same bag trains with the ordinary command, where the training venv (torch) exists.
    trainer = ROOT / ".venv" / "bin" / "python"
    if not trainer.exists():
        pytest.skip("no .venv with torch here to run `liquidcontrol train bc` on the bag")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ROS_", "RMW_", "AMENT_"))}
    env.pop("PYTHONPATH", None)
    out = tmp_path / "bc"
    proc = subprocess.run([str(trainer), "-m", "liquidcontrol", "train", "bc", "--demos", str(bag),
                           "--epochs", "2", "--units", "8", "--out", str(out)],
                          capture_output=True, text=True, timeout=600, env=env, cwd=str(ROOT))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    progress = json.loads((out / "checkpoint" / "progress.json").read_text())
    assert progress["epoch"] == 2 and progress["config"]["obs_dim"] == 14 and progress["config"]["act_dim"] == 2
    assert math.isfinite(progress["loss"])


def test_recording_needs_realtime_mode(tmp_path):
    proc = run_node("sim_bridge_node", "-p", f"record:={tmp_path / 'bag'}")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2 and "parameter record needs mode realtime" in out and "Traceback" not in out


def test_a_camera_task_is_not_recorded(tmp_path):
    proc = run_node("sim_bridge_node", "-p", "task:=driving", "-p", "mode:=realtime", "-p", f"record:={tmp_path / 'bag'}")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2 and "bags carry flat vector observations only" in out
