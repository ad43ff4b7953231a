"""``policy_node``: the rclpy adapter around :class:`liquidcontrol_ros.core.PolicyCore`.

Subscribes (sensor-data QoS) to the topics the parameters map to card
inputs, runs the policy on a timer at the card's control period, publishes
the command (``geometry_msgs/TwistStamped`` on ``cmd_vel`` by default),
serves ``~/reset`` (``std_srvs/Trigger``) and publishes a
``diagnostic_msgs/DiagnosticArray`` on ``/diagnostics`` once a second.
A bad bundle or parameters file logs one error sentence and exits with
status 2 (not a crash loop: a launch file with respawn off stops there).
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from typing import Any

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Twist, TwistStamped
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import JointState
from std_msgs.msg import Float32MultiArray
from std_srvs.srv import Trigger

from liquidcontrol.errors import LiquidControlError
from liquidcontrol_ros.core import Command, PolicyCore
from liquidcontrol_ros.entry import run_node
from liquidcontrol_ros.fields import make_setter

WARN_THROTTLE_S = 1.0


def message_class(type_name: str) -> Any:
    """``"nav_msgs/msg/Odometry"`` -> the message class; one clear error when it is not installed."""
    package, _, name = type_name.partition("/msg/")
    try:
        return getattr(importlib.import_module(f"{package}.msg"), name)
    except (ImportError, AttributeError):
        raise LiquidControlError(
            f"message type {type_name!r} is not available; install its ROS 2 package or fix the type name.") from None


def stamp_seconds(msg: Any) -> float | None:
    header = getattr(msg, "header", None)
    if header is None:
        return None
    return header.stamp.sec + header.stamp.nanosec * 1e-9


class PolicyNode(Node):
    """A policy bundle driving a robot; see the module docstring and ``ros_nodes/README.md``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("policy_node", allow_undeclared_parameters=True,
                         automatically_declare_parameters_from_overrides=True, **kwargs)
        params = {name: _plain(p.value) for name, p in self._parameters.items()
                  if p.type_ != Parameter.Type.NOT_SET and not _ros_builtin(name)}
        self.core = PolicyCore(params)
        cmd = self.core.config.command
        self._stamped = cmd.kind in ("twist_stamped", "joint_state")
        self._command_cls = {"twist_stamped": TwistStamped, "twist": Twist, "float32_array": Float32MultiArray,
                             "joint_state": JointState}[cmd.kind]
        self._joints = [a["name"] for a in self.core.card.action] if cmd.kind == "joint_state" else []
        self._setters = [make_setter(path, path) for path in cmd.fields] if cmd.kind in ("twist_stamped", "twist") else []
        self._constants = [(make_setter(path, path), value) for path, value in cmd.constant.items()]
        self._indices = [int(path[5:-1]) for path in cmd.fields] if cmd.kind == "float32_array" else []
        self.command_pub = self.create_publisher(self._command_cls, cmd.topic, 10)
        self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._subs = [self._subscribe(topic, type_name) for topic, type_name in self.core.config.topics().items()]
        self.reset_srv = self.create_service(Trigger, "~/reset", self._on_reset)
        self.timer = self.create_timer(self.core.period, self._on_timer)
        self.diag_timer = self.create_timer(1.0, self._publish_diagnostics)
        self.get_logger().info(
            f"policy {self.core.config.bundle} ({self.core.card.model_kind}, {self.core.config.backend}) at "
            f"{1.0 / self.core.period:g} Hz on {len(self._subs)} topic(s) -> {cmd.topic}")

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _subscribe(self, topic: str, type_name: str) -> Any:
        core = self.core

        def on_message(msg: Any) -> None:
            try:
                stamp = stamp_seconds(msg)
            except (AttributeError, TypeError):
                stamp = None
            core.on_message(topic, msg, stamp, self._now())

        return self.create_subscription(message_class(type_name), topic, on_message, qos_profile_sensor_data)

    def _on_timer(self) -> None:
        start = time.perf_counter()
        now = self._now()
        command = self.core.tick(now)
        self.command_pub.publish(self._message(command, now))
        self.core.record_latency(time.perf_counter() - start)
        if command.stopped:
            self.get_logger().warning(f"stop command: {command.reason}", throttle_duration_sec=WARN_THROTTLE_S)

    def _message(self, command: Command, now: float) -> Any:
        msg = self._command_cls()
        if self._indices:
            data = [0.0] * (max(self._indices) + 1)
            for index, value in zip(self._indices, command.values):
                data[index] = value
            msg.data = data
            return msg
        if self._joints:
            msg.name = self._joints
            setattr(msg, self.core.config.command.fields[0], [float(v) for v in command.values])
        else:
            body = msg.twist if isinstance(msg, TwistStamped) else msg
            for put, value in zip(self._setters, command.values):
                put(body, value)
            for put, value in self._constants:
                put(body, 0.0 if command.stopped else value)
        if self._stamped:
            seconds = now
            if self.core.config.command.stamp == "input" and command.stamp is not None:
                seconds = command.stamp
            msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(int(round(seconds * 1e9)), 1_000_000_000)
            msg.header.frame_id = self.core.config.command.frame_id
        return msg

    def _on_reset(self, request: Any, response: Any) -> Any:
        del request
        self.core.reset()
        response.success = True
        response.message = "policy state reset; waiting for a fresh message on every input"
        return response

    def _publish_diagnostics(self) -> None:
        ok, summary, values = self.core.diagnostics()
        status = DiagnosticStatus(level=DiagnosticStatus.OK if ok else DiagnosticStatus.WARN,
                                  name=f"{self.get_name()}: policy", message=summary[:200],
                                  hardware_id=self.core.card.env_id)
        status.values = [KeyValue(key=k, value=v) for k, v in values.items()]
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self.diag_pub.publish(array)


def _ros_builtin(name: str) -> bool:
    """Parameters every rclpy node has (they are not the policy's)."""
    return name in ("use_sim_time", "start_type_description_service") or name.startswith("qos_overrides.")


def _plain(value: Any) -> Any:
    """Parameter values as plain Python (arrays as lists)."""
    if isinstance(value, (str, bytes, bool, int, float)) or value is None:
        return value
    try:
        return list(value)
    except TypeError:
        return value


def spin(node: Node) -> None:
    """Spin ``node`` until shutdown: in rclpy's EventsExecutor where this rclpy has it (Jazzy; a
    quarter of the loop latency, see ros_nodes/README.md), else the SingleThreadedExecutor.
    ``LIQUIDCONTROL_ROS_EXECUTOR=single`` forces the latter. The EventsExecutor is driven by
    ``spin_once`` calls: its ``spin()`` served no timers in rclpy 7.1.6 (Jazzy wheels)."""
    executor: Any = None
    if os.environ.get("LIQUIDCONTROL_ROS_EXECUTOR", "events") != "single":
        try:
            from rclpy.experimental import EventsExecutor

            executor = EventsExecutor(context=node.context)
        except ImportError:
            executor = None
    if executor is None:
        rclpy.spin(node)
        return
    executor.add_node(node)
    while node.context.ok():
        executor.spin_once(timeout_sec=0.1)


def main(args: list[str] | None = None) -> int:
    return run_node("policy_node", PolicyNode, spin, args)


if __name__ == "__main__":
    sys.exit(main())
