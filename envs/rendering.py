"""Offscreen rendering shared by the tasks: one renderer per env, cheap settings.

Software rendering (``MUJOCO_GL=egl`` with Mesa on a machine without a GPU)
runs at a few frames per second with MuJoCo's defaults; without shadows,
reflections and the skybox it is fast enough for videos and camera tasks.
"""

from __future__ import annotations

import mujoco

from liquidcontrol.errors import LiquidControlError


def lite_renderer(model: mujoco.MjModel, height: int, width: int) -> mujoco.Renderer:
    """An offscreen renderer with shadows, reflections and the skybox off; one clear error if
    no offscreen GL context can be made."""
    try:
        renderer = mujoco.Renderer(model, height, width)
    except mujoco.FatalError as exc:
        raise LiquidControlError(
            f"offscreen rendering failed ({exc}); set MUJOCO_GL=egl (or osmesa) before mujoco is first "
            "imported, with Mesa's EGL installed (scripts/setup.sh installs the Debian packages libegl1 "
            "libegl-mesa0 libgl1-mesa-dri libgl1).") from exc
    flags = renderer.scene.flags
    for flag in (mujoco.mjtRndFlag.mjRND_SHADOW, mujoco.mjtRndFlag.mjRND_REFLECTION,
                 mujoco.mjtRndFlag.mjRND_SKYBOX):
        flags[flag] = 0
    return renderer
