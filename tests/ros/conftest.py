"""Real-rclpy tests of ros_nodes: run by scripts/test_ros.sh in .venv-ros (ROS 2 Jazzy wheels).

The main venv has no rclpy: there these files are not collected at all
(run ``bash scripts/test_ros.sh``), rather than reported as skips.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "ros_nodes"
PARKING_BUNDLE = ROOT / "policies" / "pretrained" / "parking_cfc_ncp12"
PARKING_YAML = PACKAGE / "config" / "parking_car.yaml"
DRONE_YAML = PACKAGE / "config" / "drone_rates.yaml"
RANGES = ("front", "front_left", "left", "rear_left", "rear", "rear_right", "right", "front_right")

if importlib.util.find_spec("rclpy") is None:
    collect_ignore_glob = ["test_*.py"]
else:
    sys.path.insert(0, str(PACKAGE))


def node_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE), env.get("PYTHONPATH", "")]))
    env.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    return env


def run_node(module: str, *ros_args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run a node module to its exit (it must exit by itself)."""
    return subprocess.run([sys.executable, "-m", f"liquidcontrol_ros.{module}", "--ros-args", *ros_args],
                          env=node_env(), capture_output=True, text=True, timeout=timeout)


def start_node(module: str, *ros_args: str, log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("wb")
    return subprocess.Popen([sys.executable, "-m", f"liquidcontrol_ros.{module}", "--ros-args", *ros_args],
                            env=node_env(), stdout=handle, stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(2)  # SIGINT: the nodes exit cleanly on Ctrl-C
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class Ros:
    """One rclpy context with an executor; ``spin_until`` bounds every wait (no timed assertions)."""

    def __init__(self, args: list[str]) -> None:
        import rclpy
        from rclpy.executors import SingleThreadedExecutor

        self.rclpy = rclpy
        self.context = rclpy.Context()
        rclpy.init(args=["test", "--ros-args", *args], context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.nodes: list[Any] = []

    def add(self, node: Any) -> Any:
        self.nodes.append(node)
        self.executor.add_node(node)
        return node

    def spin_until(self, done: Callable[[], bool], limit: float = 10.0) -> bool:
        end = time.monotonic() + limit
        while not done() and time.monotonic() < end:
            self.executor.spin_once(timeout_sec=0.01)
        return done()

    def spin_for(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=0.005)

    def close(self) -> None:
        for node in self.nodes:
            self.executor.remove_node(node)
            node.destroy_node()
        self.executor.shutdown()
        self.rclpy.shutdown(context=self.context)


@pytest.fixture
def ros_factory() -> Iterator[Callable[..., Ros]]:
    made: list[Ros] = []

    def make(*args: str) -> Ros:
        ros = Ros(list(args))
        made.append(ros)
        return ros

    yield make
    for ros in made:
        ros.close()
