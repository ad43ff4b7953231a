"""Another DDS vendor on the robot side: a Cyclone DDS process (the `cyclonedds` package, no ROS
libraries) publishes the car's sensors as ROS 2 lays them on the wire and receives the commands of
policy_node (Fast DDS). The first driven command must be the policy's first step on those readings."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import PARKING_BUNDLE, PARKING_YAML, node_env, start_node, stop

from liquidcontrol.runtime import PolicyRunner

CAR = Path(__file__).with_name("cyclone_car.py")
# Loopback only, unicast discovery to the well-known ports on 127.0.0.1 (what Fast DDS does with
# ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST).
CYCLONE_CONFIG = ("<CycloneDDS><Domain Id=\"any\"><General><Interfaces><NetworkInterface name=\"lo\"/></Interfaces>"
                  "<AllowMulticast>false</AllowMulticast></General><Discovery><ParticipantIndex>auto</ParticipantIndex>"
                  "<MaxAutoParticipantIndex>20</MaxAutoParticipantIndex><Peers><Peer address=\"127.0.0.1\"/></Peers>"
                  "</Discovery></Domain></CycloneDDS>")


def test_cyclonedds_robot_side_exchanges_the_same_messages(tmp_path):
    pytest.importorskip("cyclonedds", reason="the cyclonedds package is not installed (scripts/setup_ros.sh installs it)")
    policy = start_node("policy_node", "--params-file", str(PARKING_YAML), "-p", f"bundle:={PARKING_BUNDLE}",
                        log=tmp_path / "policy.log")
    try:
        env = node_env()
        env["CYCLONEDDS_URI"] = CYCLONE_CONFIG
        car = subprocess.run([sys.executable, str(CAR), "6"], env=env, capture_output=True, text=True, timeout=60)
    finally:
        stop(policy)
    assert car.returncode == 0, car.stderr[-2000:]
    report = json.loads(car.stdout.strip().splitlines()[-1])
    assert report["matched"], f"Cyclone DDS and Fast DDS did not discover each other: {report}"
    assert report["stops"] >= 1 and report["commands"] >= 20 and report["first_driven"] is not None, report
    obs = np.array([0.45, 0.5, math.cos(0.04), math.sin(0.04), 0.1, 0.02] + [1.2] * 8, dtype=np.float32)
    runner = PolicyRunner(PARKING_BUNDLE)
    steering, speed = runner.step(obs, 0.05).tolist()
    assert report["first_driven"] == pytest.approx([0.38 * steering, 0.5 * speed], abs=1e-6)
