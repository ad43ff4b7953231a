"""A 1 kHz flood of sensor messages (one in twelve out of order, one in twelve malformed) for
10 minutes: policy_node keeps driving, counts the drops, and its memory stays flat (slow)."""

from __future__ import annotations

import math
import os

import pytest
from conftest import PARKING_BUNDLE, PARKING_YAML, start_node, stop
from helpers import FakeCar, is_stop

FLOOD_SECONDS = float(os.environ.get("LIQUIDCONTROL_FLOOD_SECONDS", "600"))


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


@pytest.mark.slow
def test_flood_for_ten_minutes(ros_factory, tmp_path):
    policy = start_node("policy_node", "--params-file", str(PARKING_YAML), "-p", f"bundle:={PARKING_BUNDLE}",
                        log=tmp_path / "policy.log")
    try:
        ros = ros_factory()
        car = FakeCar(ros.context)
        ros.add(car.node)
        assert ros.spin_until(car.matched, 20.0)
        sent = 0

        odom, joints, ranges = car.Odometry(), car.JointState(name=["steering"], position=[0.0]), car.Range()
        odom.pose.pose.position.x, odom.pose.pose.position.y, odom.pose.pose.orientation.w = 0.4, 0.5, 1.0
        old, malformed = car.Odometry(), car.JointState()
        range_pubs = list(car.ranges.values())

        def flood() -> None:
            """One message per call, cycling over twelve: ten good ones, one out of order, one malformed."""
            nonlocal sent
            k = sent % 12
            sent += 1
            stamp = car.now().to_msg()
            if k == 0:
                odom.header.stamp = stamp
                car.odom.publish(odom)
            elif k == 1:
                joints.header.stamp = stamp
                car.joints.publish(joints)
            elif k < 10:
                ranges.header.stamp, ranges.range = stamp, math.inf if k % 2 else 1.0
                range_pubs[k - 2].publish(ranges)
            elif k == 10:  # older than the last odom: out of order
                old.header.stamp.sec, old.header.stamp.nanosec = stamp.sec, 0
                car.odom.publish(old)
            else:  # nothing at position[0]: malformed
                malformed.header.stamp = stamp
                car.joints.publish(malformed)

        from diagnostic_msgs.msg import DiagnosticArray

        diagnostics: list = []
        car.node.create_subscription(DiagnosticArray, "/diagnostics", diagnostics.append, 10)
        car.node.create_timer(0.001, flood)
        ros.spin_for(30.0)  # warm-up: allocator and DDS history settle
        first = _rss_mb(policy.pid)
        n0, sent0 = len(car.commands), sent
        ros.spin_for(FLOOD_SECONDS)
        last = _rss_mb(policy.pid)
        rate = (sent - sent0) / FLOOD_SECONDS
        driven = sum(not is_stop(m) for m in car.commands[n0:])
        print(f"flood: {sent - sent0} messages in {FLOOD_SECONDS:.0f} s ({rate:.0f}/s), {driven} driven commands, "
              f"policy_node RSS {first:.1f} -> {last:.1f} MB")
        assert policy.poll() is None, (tmp_path / "policy.log").read_text()[-2000:]
        values = {kv.key: int(kv.value) for kv in diagnostics[-1].status[0].values if kv.key.startswith("dropped_")}
        print(f"flood: the node counted {values}")
        assert values["dropped_malformed"] > 0.9 * sent / 12
        assert values["dropped_out_of_order"] + values["dropped_too_old"] > 0.9 * sent / 12
        assert driven >= 0.8 * FLOOD_SECONDS / 0.05
        assert last - first < 5.0
    finally:
        stop(policy)
