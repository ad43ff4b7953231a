"""colcon build and colcon test of ros_nodes (colcon-common-extensions from PyPI), and the installed
console scripts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import PACKAGE, PARKING_YAML, node_env

BIN = Path(sys.executable).parent


def _colcon(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = node_env()
    env["PATH"] = f"{BIN}{os.pathsep}{env['PATH']}"
    return subprocess.run([str(BIN / "colcon"), "--log-base", str(tmp_path / "log"), *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)


def test_colcon_build_and_test(tmp_path):
    where = ["--base-paths", str(PACKAGE), "--build-base", str(tmp_path / "build"),
             "--install-base", str(tmp_path / "install")]
    built = _colcon(tmp_path, "build", *where)
    assert built.returncode == 0, built.stdout + built.stderr
    lib = tmp_path / "install" / "liquidcontrol_ros" / "lib" / "liquidcontrol_ros"
    assert {p.name for p in lib.iterdir()} >= {"policy_node", "sim_bridge_node", "bench_node"}
    share = tmp_path / "install" / "liquidcontrol_ros" / "share" / "liquidcontrol_ros"
    assert {p.name for p in (share / "config").iterdir()} == {"parking_car.yaml", "driving_camera.yaml", "drone_rates.yaml",
                                                                "drone_motors.yaml"}
    assert len(list((share / "launch").glob("*.launch.py"))) == 2
    tested = _colcon(tmp_path, "test", *where)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    result = _colcon(tmp_path, "test-result", "--test-result-base", str(tmp_path / "build"))
    assert result.returncode == 0 and "4 tests, 0 errors, 0 failures" in result.stdout, result.stdout

    # The installed console script is the node: a bad bundle is one error and exit status 2.
    env = node_env()
    site = next((tmp_path / "install" / "liquidcontrol_ros" / "lib").glob("python3*/site-packages"))
    env["PYTHONPATH"] = str(site)  # the installed package, not the source tree
    run = subprocess.run([sys.executable, str(lib / "policy_node"), "--ros-args", "--params-file", str(PARKING_YAML),
                          "-p", f"bundle:={tmp_path / 'none'}"], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "cannot start: policy bundle folder" in run.stdout + run.stderr
