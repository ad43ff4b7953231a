#!/usr/bin/env bash
# Creates .venv with everything the main job and the tests need.
# Safe to run repeatedly: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# MuJoCo offscreen rendering uses EGL with Mesa's software renderer.
need_deb=()
for pkg in libegl1 libegl-mesa0 libgl1-mesa-dri libgl1 libglib2.0-0; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_deb+=("$pkg")
done
if [ ${#need_deb[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_deb[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_deb[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
stamp=.venv/.liquidcontrol-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  # torch first and pinned: 2.13.0 is the CPU wheel on our machines; anything
  # else would pull a multi-GB CUDA build.
  .venv/bin/pip install -q torch==2.13.0
  .venv/bin/pip install -q -e ".[dev]" torch==2.13.0
  touch "$stamp"
fi
echo "setup: .venv ready"
