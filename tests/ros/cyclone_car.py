"""The robot side of the wire test, on Eclipse Cyclone DDS (the `cyclonedds` package), no ROS libraries.

Publishes the parking car's sensors as ROS 2 does on the wire (DDS topics
``rt/<name>``, types ``<pkg>::msg::dds_::<Name>_``, XCDR1) and counts the
``TwistStamped`` commands on ``rt/cmd_vel``. Prints one JSON line:
``{"matched": bool, "commands": n, "first_driven": [angular.z, linear.x] or null, "stops": k}``.

Usage: ``python cyclone_car.py SECONDS``.
"""


import json
import math
import os
import sys
import time
from dataclasses import dataclass, field

from cyclonedds.core import Policy, Qos
from cyclonedds.domain import DomainParticipant
from cyclonedds.idl import IdlStruct
from cyclonedds.idl.types import array, float32, float64, int32, sequence, uint8, uint32
from cyclonedds.pub import DataWriter
from cyclonedds.sub import DataReader
from cyclonedds.topic import Topic

RANGES = ("front", "front_left", "left", "rear_left", "rear", "rear_right", "right", "front_right")
OBS = {"x": 0.45, "y": 0.5, "yaw": 0.04, "speed": 0.1, "steering": 0.02, "range": 1.2}


@dataclass
class Time(IdlStruct, typename="builtin_interfaces::msg::dds_::Time_"):
    sec: int32 = 0
    nanosec: uint32 = 0


@dataclass
class Header(IdlStruct, typename="std_msgs::msg::dds_::Header_"):
    stamp: Time = field(default_factory=Time)
    frame_id: str = ""


@dataclass
class Point(IdlStruct, typename="geometry_msgs::msg::dds_::Point_"):
    x: float64 = 0.0
    y: float64 = 0.0
    z: float64 = 0.0


@dataclass
class Quaternion(IdlStruct, typename="geometry_msgs::msg::dds_::Quaternion_"):
    x: float64 = 0.0
    y: float64 = 0.0
    z: float64 = 0.0
    w: float64 = 1.0


@dataclass
class Pose(IdlStruct, typename="geometry_msgs::msg::dds_::Pose_"):
    position: Point = field(default_factory=Point)
    orientation: Quaternion = field(default_factory=Quaternion)


@dataclass
class PoseWithCovariance(IdlStruct, typename="geometry_msgs::msg::dds_::PoseWithCovariance_"):
    pose: Pose = field(default_factory=Pose)
    covariance: array[float64, 36] = field(default_factory=lambda: [0.0] * 36)


@dataclass
class Vector3(IdlStruct, typename="geometry_msgs::msg::dds_::Vector3_"):
    x: float64 = 0.0
    y: float64 = 0.0
    z: float64 = 0.0


@dataclass
class Twist(IdlStruct, typename="geometry_msgs::msg::dds_::Twist_"):
    linear: Vector3 = field(default_factory=Vector3)
    angular: Vector3 = field(default_factory=Vector3)


@dataclass
class TwistWithCovariance(IdlStruct, typename="geometry_msgs::msg::dds_::TwistWithCovariance_"):
    twist: Twist = field(default_factory=Twist)
    covariance: array[float64, 36] = field(default_factory=lambda: [0.0] * 36)


@dataclass
class Odometry(IdlStruct, typename="nav_msgs::msg::dds_::Odometry_"):
    header: Header = field(default_factory=Header)
    child_frame_id: str = ""
    pose: PoseWithCovariance = field(default_factory=PoseWithCovariance)
    twist: TwistWithCovariance = field(default_factory=TwistWithCovariance)


@dataclass
class JointState(IdlStruct, typename="sensor_msgs::msg::dds_::JointState_"):
    header: Header = field(default_factory=Header)
    name: sequence[str] = field(default_factory=list)
    position: sequence[float64] = field(default_factory=list)
    velocity: sequence[float64] = field(default_factory=list)
    effort: sequence[float64] = field(default_factory=list)


@dataclass
class Range(IdlStruct, typename="sensor_msgs::msg::dds_::Range_"):
    header: Header = field(default_factory=Header)
    radiation_type: uint8 = 1
    field_of_view: float32 = 0.05
    min_range: float32 = 0.0
    max_range: float32 = 2.0
    range: float32 = 0.0
    variance: float32 = 0.0


@dataclass
class TwistStamped(IdlStruct, typename="geometry_msgs::msg::dds_::TwistStamped_"):
    header: Header = field(default_factory=Header)
    twist: Twist = field(default_factory=Twist)


def main(seconds: float) -> None:
    dp = DomainParticipant(int(os.environ.get("ROS_DOMAIN_ID", "0")))
    xcdr1 = Qos(Policy.DataRepresentation(use_cdrv0_representation=True), Policy.Reliability.BestEffort)
    odom_w = DataWriter(dp, Topic(dp, "rt/odom", Odometry), qos=xcdr1)
    joint_w = DataWriter(dp, Topic(dp, "rt/joint_states", JointState), qos=xcdr1)
    range_w = [DataWriter(dp, Topic(dp, f"rt/range/{r}", Range), qos=xcdr1) for r in RANGES]
    cmd_qos = Qos(Policy.DataRepresentation(use_cdrv0_representation=True),
                  Policy.Reliability.Reliable(max_blocking_time=100_000_000))
    reader = DataReader(dp, Topic(dp, "rt/cmd_vel", TwistStamped), qos=cmd_qos)
    # Write only once the policy node's subscriptions and its command writer have matched ours,
    # so the first driven command seen is the policy's first step.
    writers = [odom_w, joint_w, *range_w]
    give_up = time.monotonic() + seconds
    while time.monotonic() < give_up and not (
            all(w.get_matched_subscriptions() for w in writers) and reader.get_matched_publications()):
        time.sleep(0.01)
    matched = all(w.get_matched_subscriptions() for w in writers) and bool(reader.get_matched_publications())
    # The node sends stop commands while it has no readings; one arriving proves its writer has matched
    # our reader too (discovery is not symmetric in time).
    commands, stops, first = 0, 0, None
    while time.monotonic() < give_up and stops == 0:
        for _ in reader.take(N=20):
            commands += 1
            stops += 1
        time.sleep(0.01)
    yaw = OBS["yaw"]
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        now = time.time()
        stamp = Time(int(now), int((now - int(now)) * 1e9))
        pose = Pose(Point(OBS["x"], OBS["y"], 0.0), Quaternion(0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2)))
        odom_w.write(Odometry(Header(stamp, "slot"), "base_link", PoseWithCovariance(pose),
                              TwistWithCovariance(Twist(Vector3(OBS["speed"], 0.0, 0.0)))))
        joint_w.write(JointState(Header(stamp), ["steering"], [OBS["steering"]]))
        for w in range_w:
            w.write(Range(Header(stamp), range=OBS["range"]))
        for msg in reader.take(N=20):
            commands += 1
            if msg.twist.linear.x == 0.0 and msg.twist.angular.z == 0.0:
                stops += 1
            elif first is None:
                first = [msg.twist.angular.z, msg.twist.linear.x]
        time.sleep(0.02)
    print(json.dumps({"matched": matched, "commands": commands, "first_driven": first, "stops": stops}), flush=True)


if __name__ == "__main__":
    main(float(sys.argv[1]))
