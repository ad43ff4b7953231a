"""``sim_bridge_node``: a liquidcontrol task served as the robot's ROS 2 topics (a sim tool).

``task: parking`` publishes (sensor-data QoS, one stamp per step) ``odom``
(``nav_msgs/Odometry``, pose in the slot frame, twist in ``base_link``),
``joint_states`` (``sensor_msgs/JointState``, the steering angle) and
``range/<name>`` (``sensor_msgs/Range``, +inf for no echo), and subscribes to
``cmd_vel`` (``geometry_msgs/TwistStamped``: ``linear.x`` speed m/s,
``angular.z`` steering angle rad). ``task: drone`` (body-rate actions)
publishes ``odom`` (pose in ``world``, ENU), ``imu`` (``sensor_msgs/Imu``,
gyro in ``base_link``), ``velocity`` and ``target_error``
(``geometry_msgs/Vector3Stamped``, ``world``) and subscribes to ``cmd_rates``
(``TwistStamped``: ``linear.z`` collective thrust N, ``angular`` body rates
rad/s). ``task: drone_motors`` publishes the same and subscribes to
``cmd_motors`` (``sensor_msgs/JointState``: joints ``motor0`` .. ``motor3``,
``velocity`` = relative rotor speed, 0-1). ``task: driving`` (lane keeping
from the camera) publishes ``camera/image_raw`` (``sensor_msgs/Image``,
64x128 ``rgb8``, ``camera`` frame) and ``odom`` (pose in ``world``,
``twist.twist.linear.x`` the wheel speed) and subscribes to ``cmd_vel``
(``TwistStamped``: ``angular.z`` steering angle rad; the env holds the
speed). Each episode result goes out on ``~/episode`` (``std_msgs/String``,
JSON). Before each episode it calls the policy's reset service.

``mode: lockstep`` (default): one control step per command whose stamp
equals the last observation's stamp (the policy node's ``command.stamp:
input``), so the run does not depend on the machine's load; the
observation is sent again with a fresh stamp if no command came within
three periods. ``mode: realtime``: a timer steps the sim every period with
the latest command (the idle command, zero or hover, when none came within 0.5 s).

``record: BAG`` (realtime mode) records the episodes as demonstrations,
driven by whatever publishes the command (a teleop node, a joystick): the
sim waits for the first command of each episode, then steps in real time,
and every step's observation and executed action go into the bag
``liquidcontrol record`` writes (same topics, stamps and stored mapping), at
the end of the seeds or on Ctrl-C (finished episodes only).
``command_type: twist`` takes unstamped ``geometry_msgs/Twist`` (what
teleop_twist_keyboard publishes unless ``stamped:=true``).
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any

import numpy as np
from geometry_msgs.msg import Twist, TwistStamped, Vector3Stamped
from nav_msgs.msg import Odometry
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image, Imu, JointState, Range
from std_msgs.msg import String
from std_srvs.srv import Trigger

from liquidcontrol.errors import LiquidControlError
from liquidcontrol_ros.entry import run_node
from liquidcontrol_ros.recorder import EpisodeRecorder
from liquidcontrol_ros.sim_bridge import SIMS

MODES = ("lockstep", "realtime")
COMMAND_TYPES = ("twist_stamped", "twist")
#: The command topic and the TwistStamped fields of each action, in the card's order
#: (for a JointState command, the joint names).
COMMANDS = {"parking": ("cmd_vel", ("angular.z", "linear.x")),
            "driving": ("cmd_vel", ("angular.z",)),
            "drone": ("cmd_rates", ("linear.z", "angular.x", "angular.y", "angular.z")),
            "drone_motors": ("cmd_motors", ("motor0", "motor1", "motor2", "motor3"))}
STAMP_MATCH_S = 1e-6  # float seconds lose ~0.2 us at today's epoch: match within 1 us
REPUBLISH_PERIODS = 3
COMMAND_TIMEOUT_S = 0.5


class SimBridgeNode(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("sim_bridge", **kwargs)
        task = self.declare_parameter("task", "parking").value
        seeds = list(self.declare_parameter("seeds", [0]).value)
        self.mode = self.declare_parameter("mode", "lockstep").value
        self.reset_service = self.declare_parameter("policy_reset_service", "/policy_node/reset").value
        record = self.declare_parameter("record", "").value
        command_type = self.declare_parameter("command_type", "twist_stamped").value
        if task not in SIMS:
            raise LiquidControlError(f"parameter task is {task!r}; expected one of {', '.join(SIMS)}.")
        if self.mode not in MODES:
            raise LiquidControlError(f"parameter mode is {self.mode!r}; expected lockstep or realtime.")
        if command_type not in COMMAND_TYPES or (command_type == "twist" and task == "drone_motors"):
            raise LiquidControlError(
                f"parameter command_type is {command_type!r}; expected twist_stamped or twist "
                "(drone_motors takes sensor_msgs/JointState).")
        if record and self.mode != "realtime":
            raise LiquidControlError(
                "parameter record needs mode realtime: a recording is driven by whoever publishes the "
                "command, not lock-stepped to a policy.")
        self.task = task
        sim: Any = SIMS[task](seeds)
        self.sim = sim
        self.recorder = EpisodeRecorder(sim.env, sim.env_id, task, record) if record else None
        self.recorded: str = ""  # the bag written, once written
        qos = qos_profile_sensor_data
        if task == "parking":
            self.odom_pub = self.create_publisher(Odometry, "odom", qos)
            self.joint_pub = self.create_publisher(JointState, "joint_states", qos)
            self.range_pubs = [self.create_publisher(Range, f"range/{n}", qos) for n in sim.range_names]
        elif task == "driving":
            self.odom_pub = self.create_publisher(Odometry, "odom", qos)
            self.image_pub = self.create_publisher(Image, "camera/image_raw", qos)
        else:
            self.odom_pub = self.create_publisher(Odometry, "odom", qos)
            self.imu_pub = self.create_publisher(Imu, "imu", qos)
            self.velocity_pub = self.create_publisher(Vector3Stamped, "velocity", qos)
            self.error_pub = self.create_publisher(Vector3Stamped, "target_error", qos)
        self.episode_pub = self.create_publisher(String, "~/episode", 10)
        topic, fields = COMMANDS[task]
        self._fields = [tuple(f.split(".")) for f in fields]
        self._joints = list(fields) if task == "drone_motors" else []
        self._stamped_command = command_type == "twist_stamped"
        command_cls = JointState if self._joints else (TwistStamped if self._stamped_command else Twist)
        self.cmd_sub = self.create_subscription(command_cls, topic, self._on_command, 10)
        self.reset_client = self.create_client(Trigger, self.reset_service) if self.reset_service else None
        self.last_stamp: float | None = None  # stamp of the observation awaiting its command
        self.published_at = 0.0
        self.latest: tuple[list[float], float] | None = None  # (command values, receive time)
        self.republished = self.ignored_commands = 0
        self.running = False
        self._starting = False
        period = self.sim.period
        self.timer = self.create_timer(period, self._on_timer)
        self.get_logger().info(f"{task} sim, {len(seeds)} episode(s), {self.mode}"
                               + (f", recording to {record}" if record else ""))

    # -- episodes -----------------------------------------------------------
    def _begin_episode(self) -> None:
        if not self.sim.start_next():
            self.running = False
            self.get_logger().info(f"all {len(self.sim.results)} episodes played")
            try:
                self.on_exit()
            except (LiquidControlError, OSError) as exc:
                self.get_logger().error(f"cannot write the recording: {exc}")
            return
        if self.reset_client is None:
            self._episode_ready()
            return
        self._starting = True
        future = self.reset_client.call_async(Trigger.Request())
        future.add_done_callback(lambda _f: self._episode_ready())

    def _episode_ready(self) -> None:
        self._starting = False
        self.running = True
        self.latest = None
        self._publish_sensors()

    def _finish(self, result: Any) -> None:
        self.running = False
        self.last_stamp = None
        if self.recorder is not None:
            self.recorder.finish(result.seed, result.success)
        self.episode_pub.publish(String(data=result.to_json()))
        self._begin_episode()

    # -- stepping -----------------------------------------------------------
    def _command_values(self, msg: Any) -> list[float] | None:
        if not self._joints:
            body = msg.twist if self._stamped_command else msg
            return [getattr(getattr(body, part), axis) for part, axis in self._fields]
        names, speeds = list(msg.name), list(msg.velocity)
        if len(speeds) != len(names) or not set(self._joints) <= set(names):
            return None
        return [float(speeds[names.index(j)]) for j in self._joints]

    def _on_command(self, msg: Any) -> None:
        values = self._command_values(msg)
        if values is None:
            self.ignored_commands += 1  # not the joints this sim drives
            return
        self.latest = (values, time.monotonic())
        if self.mode != "lockstep" or not self.running or self.last_stamp is None or not self._stamped_command:
            return
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        if abs(stamp - self.last_stamp) > STAMP_MATCH_S:
            self.ignored_commands += 1  # a stop command, or one computed from an older observation
            return
        self.last_stamp = None
        self._step(values)

    def _step(self, values: list[float]) -> None:
        if not all(math.isfinite(v) for v in values):
            values = self.sim.idle_command()
        action = self.sim.action_from_command(values)
        if self.recorder is not None:
            action = self.recorder.step(np.asarray(self.sim.obs), action, self.sim.period)
        result = self.sim.step(action)
        if result is not None:
            self._finish(result)
        else:
            self._publish_sensors()

    def _on_timer(self) -> None:
        if not self.running:
            if not self._starting and not self.sim.done and self._policy_ready():
                self._begin_episode()
            return
        if self.mode == "realtime":
            if self.recorder is not None and self.latest is None:
                self._publish_sensors()  # a recording starts with the first command of the episode
                return
            latest = self.latest
            fresh = latest is not None and time.monotonic() - latest[1] <= COMMAND_TIMEOUT_S
            self._step(latest[0] if fresh and latest is not None else self.sim.idle_command())
        elif time.monotonic() - self.published_at > REPUBLISH_PERIODS * self.sim.period:
            self.republished += 1
            self._publish_sensors()

    def on_exit(self) -> None:
        """Write the recording (finished episodes), once; called at the end of the seeds and on exit."""
        if self.recorder is None or self.recorded or not self.recorder.episodes:
            return
        path = self.recorder.write()
        self.recorded = str(path)
        self.get_logger().info(f"recorded {len(self.recorder.episodes)} episode(s), {self.recorder.steps} steps, "
                               f"to {path}")

    def _policy_ready(self) -> bool:
        return self.reset_client is None or self.reset_client.service_is_ready()

    # -- sensors --------------------------------------------------------------
    def _publish_sensors(self) -> None:
        stamp = self.get_clock().now().to_msg()
        self.last_stamp = stamp.sec + stamp.nanosec * 1e-9
        self.published_at = time.monotonic()
        if self.task == "parking":
            self._publish_car(stamp)
        elif self.task == "driving":
            self._publish_camera_car(stamp)
        else:
            self._publish_drone(stamp)

    def _publish_car(self, stamp: Any) -> None:
        s = self.sim.sensors()
        odom = Odometry()
        odom.header.stamp, odom.header.frame_id, odom.child_frame_id = stamp, "slot", "base_link"
        odom.pose.pose.position.x, odom.pose.pose.position.y = s.x, s.y
        odom.pose.pose.orientation.z, odom.pose.pose.orientation.w = math.sin(s.yaw / 2), math.cos(s.yaw / 2)
        odom.twist.twist.linear.x = s.speed
        joints = JointState(name=["steering"], position=[s.steering])
        joints.header.stamp = stamp
        self.odom_pub.publish(odom)
        self.joint_pub.publish(joints)
        for pub, name, reading in zip(self.range_pubs, self.sim.range_names, s.ranges):
            msg = Range(radiation_type=Range.INFRARED, field_of_view=0.05, min_range=0.0, max_range=2.0,
                        range=reading)
            msg.header.stamp, msg.header.frame_id = stamp, f"range_{name}"
            pub.publish(msg)

    def _publish_camera_car(self, stamp: Any) -> None:
        s = self.sim.sensors()
        height, width, _ = s.image.shape
        image = Image(height=height, width=width, encoding="rgb8", is_bigendian=0, step=width * 3,
                      data=s.image.tobytes())
        image.header.stamp, image.header.frame_id = stamp, "camera"
        odom = Odometry()
        odom.header.stamp, odom.header.frame_id, odom.child_frame_id = stamp, "world", "base_link"
        odom.pose.pose.position.x, odom.pose.pose.position.y = s.x, s.y
        odom.pose.pose.orientation.z, odom.pose.pose.orientation.w = math.sin(s.yaw / 2), math.cos(s.yaw / 2)
        odom.twist.twist.linear.x = s.speed
        self.image_pub.publish(image)
        self.odom_pub.publish(odom)

    def _publish_drone(self, stamp: Any) -> None:
        s = self.sim.sensors()
        odom = Odometry()
        odom.header.stamp, odom.header.frame_id, odom.child_frame_id = stamp, "world", "base_link"
        p, q = odom.pose.pose.position, odom.pose.pose.orientation
        p.x, p.y, p.z = s.position
        q.x, q.y, q.z, q.w = s.quaternion
        imu = Imu()
        imu.header.stamp, imu.header.frame_id = stamp, "base_link"
        imu.angular_velocity.x, imu.angular_velocity.y, imu.angular_velocity.z = s.body_rates
        self.odom_pub.publish(odom)
        self.imu_pub.publish(imu)
        for pub, vector in ((self.velocity_pub, s.velocity), (self.error_pub, s.target_error)):
            msg = Vector3Stamped()
            msg.header.stamp, msg.header.frame_id = stamp, "world"
            msg.vector.x, msg.vector.y, msg.vector.z = vector
            pub.publish(msg)


def main(args: list[str] | None = None) -> int:
    return run_node("sim_bridge", SimBridgeNode, args=args)


if __name__ == "__main__":
    sys.exit(main())
