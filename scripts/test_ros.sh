#!/usr/bin/env bash
# Runs the real-rclpy tests of ros_nodes (tests/ros) in .venv-ros.
# DDS traffic stays on this machine: localhost-only discovery, a domain id of
# this run's own, and, when root, a fresh network namespace with only loopback.
# Extra arguments go to pytest (e.g. -m slow for the 20-seed closed loop).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_ros.sh
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
export ROS_DOMAIN_ID=${ROS_DOMAIN_ID:-$(( ($$ % 100) + 101 ))}  # 101..200, away from the default 0
export PYTHONPATH="$PWD/ros_nodes${PYTHONPATH:+:$PYTHONPATH}"
export MUJOCO_GL=${MUJOCO_GL:-egl}
cmd=(.venv-ros/bin/python -m pytest -q tests/ros "$@")
if [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null && unshare -n true 2>/dev/null; then
  exec unshare -n sh -c 'ip link set lo up 2>/dev/null || true; exec "$@"' sh "${cmd[@]}"
fi
exec "${cmd[@]}"
