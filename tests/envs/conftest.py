"""Headless rendering: MuJoCo picks its GL backend when first imported, so set it here."""

import os

os.environ.setdefault("MUJOCO_GL", "egl")
