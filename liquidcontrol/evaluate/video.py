"""Record one episode to an mp4 (imageio-ffmpeg), falling back to a gif.

The env is made with ``render_mode="rgb_array"``; MuJoCo renders offscreen
(``MUJOCO_GL=egl`` is set by :mod:`liquidcontrol.evaluate` if unset).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.evaluate.agents import AgentFactory
from liquidcontrol.evaluate.sweep import make_env
from liquidcontrol.fileio import atomic_path
from liquidcontrol.rollout import EpisodeRecord, StepEvent, control_period, run_episodes
from liquidcontrol.tasks import task_for_env


def record_episode(
    agent_factory: AgentFactory,
    env_id: str,
    path: str | Path,
    seed: int = 0,
    perturbations: Sequence[tuple[str, int]] = (),
    max_steps: int | None = None,
    env_kwargs: dict[str, Any] | None = None,
) -> tuple[Path, EpisodeRecord]:
    """Play the episode of ``seed`` and save its frames to ``path`` (.mp4 or .gif).

    Returns the file actually written (``.gif`` if mp4 encoding failed) and
    the episode's record. Frame rate: one frame per control period.
    """
    env = make_env(env_id, perturbations, seed, render_mode="rgb_array", **(env_kwargs or {}))
    frames: list[np.ndarray] = []

    def grab(event: StepEvent) -> None:
        frames.append(np.asarray(env.render()))

    try:
        agent = agent_factory([env])
        env.reset(seed=seed)
        first = env.render()
        if first is None:
            raise LiquidControlError(f"{env_id} rendered nothing with render_mode='rgb_array'.")
        frames.append(np.asarray(first))
        (record,) = run_episodes([env], agent, [seed], on_step=grab, max_steps=max_steps, task=task_for_env(env_id))
        fps = 1.0 / control_period(env)
    finally:
        env.close()
    # run_episodes resets the env itself; the frame grabbed above shows the same start state.
    return write_video(frames, path, fps), record


def write_video(frames: Sequence[np.ndarray], path: str | Path, fps: float) -> Path:
    """Encode RGB frames [H, W, 3] uint8 as mp4 (H.264); on failure write a gif next to it."""
    if not frames:
        raise LiquidControlError("cannot write a video without frames.")
    dest = Path(path)
    stack = [np.ascontiguousarray(f, dtype=np.uint8) for f in frames]
    if dest.suffix.lower() == ".mp4":
        try:
            return _write_mp4(stack, dest, fps)
        except Exception:  # noqa: BLE001 - ffmpeg missing or codec failure: a gif still shows the episode
            dest = dest.with_suffix(".gif")
    return _write_gif(stack, dest, fps)


def _write_mp4(frames: list[np.ndarray], dest: Path, fps: float) -> Path:
    import imageio.v2 as imageio

    with atomic_path(dest) as tmp:
        # imageio picks its plugin from the file name, so encode to a sibling ending in
        # .mp4, then move it onto the temporary file that atomic_path renames into place.
        staged = tmp.with_name(tmp.name + ".mp4")
        try:
            writer = imageio.get_writer(staged, format="FFMPEG", mode="I", fps=fps, codec="libx264",
                                        macro_block_size=1, pixelformat="yuv420p")
            try:
                for frame in frames:
                    writer.append_data(_even(frame))
            finally:
                writer.close()
            os.replace(staged, tmp)
        finally:
            staged.unlink(missing_ok=True)
    return dest


def _even(frame: np.ndarray) -> np.ndarray:
    """yuv420p needs even width and height: drop a last row or column if odd."""
    h, w = frame.shape[:2]
    return frame[: h - h % 2, : w - w % 2]


def _write_gif(frames: list[np.ndarray], dest: Path, fps: float) -> Path:
    from PIL import Image

    images = [Image.fromarray(f) for f in frames]
    with atomic_path(dest) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                       duration=int(round(1000 / fps)), loop=0)
    return dest
