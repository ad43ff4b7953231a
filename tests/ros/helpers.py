"""A stand-in robot for the policy node tests: publishes the parking car's sensors, records commands."""

from __future__ import annotations

import math
from typing import Any

from conftest import RANGES


class FakeCar:
    """Publishes odom, joint_states and range/* (sensor-data QoS) and records cmd_vel."""

    def __init__(self, context: Any) -> None:
        from geometry_msgs.msg import TwistStamped
        from nav_msgs.msg import Odometry
        from rclpy.node import Node
        from rclpy.qos import qos_profile_sensor_data
        from sensor_msgs.msg import JointState, Range

        self.node = Node("fake_car", context=context)
        self.Odometry, self.JointState, self.Range = Odometry, JointState, Range
        qos = qos_profile_sensor_data
        self.odom = self.node.create_publisher(Odometry, "odom", qos)
        self.joints = self.node.create_publisher(JointState, "joint_states", qos)
        self.ranges = {r: self.node.create_publisher(Range, f"range/{r}", qos) for r in RANGES}
        self.commands: list[Any] = []
        self.node.create_subscription(TwistStamped, "cmd_vel", self.commands.append, 10)

    def now(self) -> Any:
        return self.node.get_clock().now()

    def publish(self, x: float = 0.4, y: float = 0.5, yaw: float = 0.05, speed: float = 0.0,
                steering: float = 0.0, reading: float = math.inf) -> None:
        stamp = self.now().to_msg()
        odom = self.Odometry()
        odom.header.stamp = stamp
        odom.pose.pose.position.x, odom.pose.pose.position.y = x, y
        odom.pose.pose.orientation.z, odom.pose.pose.orientation.w = math.sin(yaw / 2), math.cos(yaw / 2)
        odom.twist.twist.linear.x = speed
        self.odom.publish(odom)
        joints = self.JointState(name=["steering"], position=[steering])
        joints.header.stamp = stamp
        self.joints.publish(joints)
        for pub in self.ranges.values():
            msg = self.Range(range=reading)
            msg.header.stamp = stamp
            pub.publish(msg)

    def matched(self, command_topic: str = "cmd_vel") -> bool:
        """Every sensor publisher has its subscriber and the command topic its publisher."""
        pubs = [self.odom, self.joints, *self.ranges.values()]
        return all(p.get_subscription_count() > 0 for p in pubs) and self.node.count_publishers(command_topic) > 0


def stamp_s(msg: Any) -> float:
    return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9


def is_stop(msg: Any) -> bool:
    return msg.twist.linear.x == 0.0 and msg.twist.angular.z == 0.0
