"""Latency of the full policy-node loop with real rclpy on one thread: message in -> command out.

One process, one ``SingleThreadedExecutor``: a stand-in car publishes the
parking car's ten sensor messages (odom, joint_states, eight ranges), the
policy node takes them through DDS, its timer callback runs, and the car
receives the ``TwistStamped``. Measured per iteration (perf_counter):

- ``loop10``: all ten sensor messages published at once -> command received (DDS
  both ways, the executor, every callback): the worst case;
- ``loop1``: the other nine delivered first (untimed), then one message
  published -> command received: sensors that arrive spread over the period;
- ``tick``: the policy node's timer callback alone (watchdog, policy step,
  clamping, message build and publish);
- ``step``: ``PolicyRunner.step`` alone on the same observation.

Usage: ``python -m liquidcontrol_ros.bench_node --bundle BUNDLE --params ros_nodes/config/parking_car.yaml
[--iterations 2000] [--backend numpy]``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

RANGES = ("front", "front_left", "left", "rear_left", "rear", "rear_right", "right", "front_right")


def _percentiles(name: str, seconds: list[float]) -> str:
    us = np.array(seconds) * 1e6
    return (f"{name:<7}p50 {np.percentile(us, 50):8.1f} us   p99 {np.percentile(us, 99):8.1f} us   "
            f"max {us.max():8.1f} us   (n={us.size})")


def run(bundle: str, params: str, iterations: int, backend: str, executor_kind: str = "single",
        lean: bool = False) -> dict[str, list[float]]:
    import rclpy
    from geometry_msgs.msg import TwistStamped
    from nav_msgs.msg import Odometry
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import JointState, Range

    from liquidcontrol_ros.policy_node import PolicyNode

    context = rclpy.Context()
    rclpy.init(args=["bench", "--ros-args", "--params-file", params, "-p", f"bundle:={bundle}",
                     "-p", f"backend:={backend}"], context=context)
    if executor_kind == "events":
        from rclpy.experimental import EventsExecutor

        executor: Any = EventsExecutor(context=context)
    else:
        executor = SingleThreadedExecutor(context=context)
    node = PolicyNode(context=context, start_parameter_services=not lean)
    node.timer.cancel()  # the bench calls the timer callback itself, right after the inputs arrived
    car = rclpy.create_node("bench_car", context=context)
    executor.add_node(node)
    executor.add_node(car)
    qos = qos_profile_sensor_data
    odom_pub = car.create_publisher(Odometry, "odom", qos)
    joint_pub = car.create_publisher(JointState, "joint_states", qos)
    range_pubs = [car.create_publisher(Range, f"range/{r}", qos) for r in RANGES]
    got: list[Any] = []
    car.create_subscription(TwistStamped, "cmd_vel", got.append, 10)
    pubs = [odom_pub, joint_pub, *range_pubs]
    deadline = time.monotonic() + 10
    while not all(p.get_subscription_count() for p in pubs) or car.count_publishers("cmd_vel") == 0:
        executor.spin_once(timeout_sec=0.01)
        if time.monotonic() > deadline:
            raise RuntimeError("the bench's publishers and the policy node did not discover each other in 10 s")
    topics = list(node.core.topics.values())
    odom, joints, ranges = Odometry(), JointState(name=["steering"], position=[0.0]), [Range() for _ in RANGES]
    odom.pose.pose.position.x, odom.pose.pose.position.y, odom.pose.pose.orientation.w = 0.4, 0.5, 1.0
    out: dict[str, list[float]] = {"loop10": [], "loop1": [], "tick": [], "step": []}
    rng = np.random.default_rng(0)
    for k in range(iterations + 50):
        stamp = car.get_clock().now().to_msg()
        odom.header.stamp = joints.header.stamp = stamp
        odom.twist.twist.linear.x = float(rng.uniform(-0.3, 0.3))
        for msg in ranges:
            msg.header.stamp, msg.range = stamp, float(rng.uniform(0.1, 2.5)) if k % 3 else math.inf
        for t in topics:
            t.received_at = None
        n = len(got)
        one = k % 2 == 1  # odd iterations: nine messages delivered untimed, then the last one timed
        if one:
            joint_pub.publish(joints)
            for pub, msg in zip(range_pubs, ranges):
                pub.publish(msg)
            while any(t.received_at is None for t in topics[1:]):
                executor.spin_once(timeout_sec=0.001)
        start = time.perf_counter()
        odom_pub.publish(odom)
        if not one:
            joint_pub.publish(joints)
            for pub, msg in zip(range_pubs, ranges):
                pub.publish(msg)
        while any(t.received_at is None for t in topics):
            executor.spin_once(timeout_sec=0.001)
        tick_start = time.perf_counter()
        node._on_timer()
        tick_end = time.perf_counter()
        while len(got) == n:
            executor.spin_once(timeout_sec=0.001)
        end = time.perf_counter()
        if got[-1].twist.linear.x == 0.0 and got[-1].twist.angular.z == 0.0:
            raise RuntimeError(f"the policy node stopped during the bench: {node.core.last_reason}")
        obs = node.core._buffers[0].copy()
        s0 = time.perf_counter()
        node.core.runner.step(obs, 0.05)
        s1 = time.perf_counter()
        if k >= 50:  # warm-up
            out["loop1" if one else "loop10"].append(end - start)
            out["tick"].append(tick_end - tick_start)
            out["step"].append(s1 - s0)
        del got[:-1]
    node.destroy_node()
    car.destroy_node()
    executor.shutdown()
    rclpy.shutdown(context=context)
    return out


def main(argv: list[str] | None = None) -> int:
    root = Path(__file__).resolve().parents[2]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", default=str(root / "policies/pretrained/parking_cfc_ncp12"))
    parser.add_argument("--params", default=str(root / "ros_nodes/config/parking_car.yaml"))
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--backend", default="onnxruntime", choices=("onnxruntime", "numpy"))
    parser.add_argument("--executor", default="single", choices=("single", "events"),
                        help="rclpy's SingleThreadedExecutor or its experimental EventsExecutor")
    parser.add_argument("--no-parameter-services", action="store_true",
                        help="create the policy node without its six parameter services (a smaller wait set)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    out = run(args.bundle, args.params, args.iterations, args.backend, args.executor, args.no_parameter_services)
    print(f"policy node loop, real rclpy, one thread ({args.executor} executor), {args.backend} backend, "
          f"{Path(args.bundle).name}: sensor messages in -> TwistStamped out")
    for name in ("loop10", "loop1", "tick", "step"):
        print("  " + _percentiles(name, out[name]))
    print(f"  ({time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
