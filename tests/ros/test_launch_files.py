"""The launch files, without the launch system: ROS 2's ``launch`` / ``launch_ros`` are not on PyPI (no
``ros-launch``, ``ros-launch-ros`` or ``ros-ros2launch`` distribution; see ros_nodes/README.md), so each
``generate_launch_description()`` runs here against a recording stand-in of the four launch classes the
files use, with the real ament index of a colcon install. What it describes is checked against the
package (console scripts, installed parameter files, declared arguments), and the described nodes are
started as launch_ros starts them (the installed executable, ``--ros-args -r __node:=NAME``,
``--params-file`` for a file, ``-p name:=value`` for a dict entry) to see them come up.

This checks the launch files' contents and the processes they name, not the launch system itself.
"""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
import types
from pathlib import Path

import pytest
from conftest import PACKAGE, PARKING_BUNDLE, node_env, stop

BIN = Path(sys.executable).parent


class LaunchConfiguration:
    def __init__(self, name: str) -> None:
        self.name = name


class DeclareLaunchArgument:
    def __init__(self, name: str, default_value: str | None = None, description: str = "") -> None:
        self.name, self.default_value, self.description = name, default_value, description


class Node:
    def __init__(self, **kwargs) -> None:
        self.kwargs = kwargs


class LaunchDescription:
    def __init__(self, entities) -> None:
        self.entities = list(entities)


def _stand_in_modules() -> dict[str, types.ModuleType]:
    launch = types.ModuleType("launch")
    launch.LaunchDescription = LaunchDescription
    actions = types.ModuleType("launch.actions")
    actions.DeclareLaunchArgument = DeclareLaunchArgument
    substitutions = types.ModuleType("launch.substitutions")
    substitutions.LaunchConfiguration = LaunchConfiguration
    launch_ros = types.ModuleType("launch_ros")
    ros_actions = types.ModuleType("launch_ros.actions")
    ros_actions.Node = Node
    return {"launch": launch, "launch.actions": actions, "launch.substitutions": substitutions,
            "launch_ros": launch_ros, "launch_ros.actions": ros_actions}


@pytest.fixture(scope="module")
def install(tmp_path_factory) -> Path:
    """``colcon build`` of ros_nodes; the install prefix."""
    base = tmp_path_factory.mktemp("colcon")
    env = node_env()
    env["PATH"] = f"{BIN}{os.pathsep}{env['PATH']}"
    built = subprocess.run([str(BIN / "colcon"), "--log-base", str(base / "log"), "build", "--base-paths", str(PACKAGE),
                            "--build-base", str(base / "build"), "--install-base", str(base / "install")],
                           cwd=base, env=env, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    return base / "install"


def _describe(name: str, install: Path, monkeypatch) -> LaunchDescription:
    for module, stand_in in _stand_in_modules().items():
        monkeypatch.setitem(sys.modules, module, stand_in)
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(install / "liquidcontrol_ros"))
    launch_file = install / "liquidcontrol_ros" / "share" / "liquidcontrol_ros" / "launch" / name
    return runpy.run_path(str(launch_file))["generate_launch_description"]()


def _commands(description: LaunchDescription, install: Path, arguments: dict[str, str]) -> list[tuple[Node, list[str]]]:
    """Each described node as the command launch_ros would run; checks its contents on the way."""
    declared = {e.name: e for e in description.entities if isinstance(e, DeclareLaunchArgument)}
    assert set(arguments) <= set(declared), f"undeclared launch arguments {set(arguments) - set(declared)}"

    def value(v):
        if isinstance(v, LaunchConfiguration):
            assert v.name in declared, f"LaunchConfiguration {v.name!r} is not declared"
            got = arguments.get(v.name, declared[v.name].default_value)
            assert got is not None, f"launch argument {v.name!r} has no default and was not given"
            return got
        return v

    lib = install / "liquidcontrol_ros" / "lib" / "liquidcontrol_ros"
    out = []
    for node in (e for e in description.entities if isinstance(e, Node)):
        k = node.kwargs
        assert k["package"] == "liquidcontrol_ros" and (lib / k["executable"]).exists(), k
        cmd = [sys.executable, str(lib / k["executable"]), "--ros-args", "-r", f"__node:={k['name']}"]
        for item in k.get("parameters", []):
            if isinstance(item, dict):
                for name, v in item.items():
                    cmd += ["-p", f"{name}:={value(v)}"]
            else:
                path = Path(value(item))
                assert path.is_file(), f"parameters file {path} is not installed"
                cmd += ["--params-file", str(path)]
        out.append((node, cmd))
    return out


def _env(install: Path) -> dict[str, str]:
    env = node_env()
    site = next((install / "liquidcontrol_ros" / "lib").glob("python3*/site-packages"))
    env["PYTHONPATH"] = str(site)  # the installed package, as ros2 launch runs it
    return env


def test_parking_sim_launch_brings_up_bridge_and_policy_and_parks(install, monkeypatch, ros_factory, tmp_path):
    from std_msgs.msg import String

    description = _describe("parking_sim.launch.py", install, monkeypatch)
    commands = _commands(description, install, {"bundle": str(PARKING_BUNDLE), "seeds": "[0]"})
    assert [n.kwargs["name"] for n, _ in commands] == ["sim_bridge", "policy_node"]
    ros = ros_factory()
    listener = ros.add(ros.rclpy.create_node("launch_listener", context=ros.context))
    results: list[dict] = []
    listener.create_subscription(String, "/sim_bridge/episode", lambda m: results.append(json.loads(m.data)), 10)
    procs = [subprocess.Popen(cmd, env=_env(install), stdout=(tmp_path / f"{n.kwargs['name']}.log").open("wb"),
                              stderr=subprocess.STDOUT) for n, cmd in commands]
    try:
        ros.spin_until(lambda: bool(results) or any(p.poll() is not None for p in procs), 90.0)
    finally:
        for p in procs:
            stop(p)
    logs = "".join((tmp_path / f"{n.kwargs['name']}.log").read_text() for n, _ in commands)
    assert results and results[0]["seed"] == 0 and results[0]["success"], logs[-2000:]
    assert "Traceback" not in logs


def test_policy_launch_does_not_respawn_a_node_that_cannot_start(install, monkeypatch, tmp_path):
    description = _describe("policy.launch.py", install, monkeypatch)
    ((node, cmd),) = _commands(description, install, {"bundle": str(tmp_path / "missing")})
    assert node.kwargs["respawn"] is False
    proc = subprocess.run(cmd, env=_env(install), capture_output=True, text=True, timeout=60)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2 and "cannot start: policy bundle folder" in out and "Traceback" not in out


def test_policy_launch_brings_up_the_node(install, monkeypatch, ros_factory, tmp_path):
    from geometry_msgs.msg import TwistStamped

    description = _describe("policy.launch.py", install, monkeypatch)
    ((_, cmd),) = _commands(description, install, {"bundle": str(PARKING_BUNDLE), "backend": "numpy"})
    ros = ros_factory()
    listener = ros.add(ros.rclpy.create_node("launch_listener", context=ros.context))
    got: list = []
    listener.create_subscription(TwistStamped, "cmd_vel", got.append, 10)
    proc = subprocess.Popen(cmd, env=_env(install), stdout=(tmp_path / "policy.log").open("wb"), stderr=subprocess.STDOUT)
    try:
        ros.spin_until(lambda: len(got) >= 3 or proc.poll() is not None, 30.0)
    finally:
        stop(proc)
    log = (tmp_path / "policy.log").read_text()
    assert len(got) >= 3, log[-2000:]  # no sensors: the stop command at the control period
    assert all(m.twist.linear.x == 0.0 and m.twist.angular.z == 0.0 for m in got)
    assert "(cfc-ncp, numpy)" in log


def test_the_checks_catch_a_broken_launch_file(install, monkeypatch):
    described = LaunchDescription([
        DeclareLaunchArgument("bundle"),
        Node(package="liquidcontrol_ros", executable="policy_node", name="policy_node",
             parameters=[{"bundle": LaunchConfiguration("bundel")}]),
    ])
    with pytest.raises(AssertionError, match="LaunchConfiguration 'bundel' is not declared"):
        _commands(described, install, {"bundle": "b"})
    described.entities[1] = Node(package="liquidcontrol_ros", executable="policy_node", name="policy_node",
                                 parameters=["/nowhere/params.yaml"])
    with pytest.raises(AssertionError, match="parameters file /nowhere/params.yaml is not installed"):
        _commands(described, install, {"bundle": "b"})
    described.entities[1] = Node(package="liquidcontrol_ros", executable="policy_nod", name="policy_node")
    with pytest.raises(AssertionError):
        _commands(described, install, {})
    with pytest.raises(AssertionError, match="has no default and was not given"):
        _commands(LaunchDescription([DeclareLaunchArgument("bundle"), Node(
            package="liquidcontrol_ros", executable="policy_node", name="p",
            parameters=[{"bundle": LaunchConfiguration("bundle")}])]), install, {})
