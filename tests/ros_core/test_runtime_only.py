"""The node logic needs only the deploy path: numpy, onnxruntime and liquidcontrol.runtime."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT

BLOCKED = ("torch", "mujoco", "gymnasium", "cv2", "rclpy", "onnx", "safetensors")

SCRIPT = f"""
import sys
for name in {BLOCKED!r}:
    sys.modules[name] = None  # importing any of them now raises ImportError
sys.path.insert(0, {str(ROOT / "ros_nodes")!r})
sys.path.insert(0, {str(ROOT / "tests" / "ros_core")!r})
from conftest import feed_all, parking_params
from liquidcontrol_ros.core import PolicyCore
core = PolicyCore(parking_params())
feed_all(core, 1.0)
cmd = core.tick(1.0)
print(cmd.stopped, len(cmd.values))
"""


def test_node_logic_runs_without_torch_mujoco_or_ros():
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["False", "2"]


def test_the_check_blocks_what_it_says():
    proc = subprocess.run([sys.executable, "-c", "import sys; sys.modules['mujoco'] = None; import mujoco"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "import of mujoco halted" in proc.stderr
