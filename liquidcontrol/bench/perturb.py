"""Cost of each camera perturbation per frame, and example images of every severity.

Frames come from the real driving env (64 x 128, the expert driving); each
perturbation's per-frame work (``ImageEffect.apply``) is timed at severities
1-5 on one thread. Target: <= 0.5 ms per 64 x 128 frame. ``--examples DIR``
also writes one PNG per perturbation: the clean frame, then severities 1-5,
each scaled x3 (the pictures in ``docs/camera_perturbations.md``). Nothing
is asserted (shared machines are noisy).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from liquidcontrol.fileio import atomic_write_bytes, atomic_write_json

TARGET_MS = 0.5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--frames", type=int, default=300, help="timed frames per perturbation and severity (default 300)")
    parser.add_argument("--examples", default="", metavar="DIR", help="also write example PNGs of every severity to DIR")
    parser.add_argument("--seed", type=int, default=7, help="episode seed of the example frames (default 7)")
    parser.add_argument("--json", default=None, metavar="PATH", help="also write the results as JSON to PATH")


def _driving_frames(seed: int, n: int) -> tuple[Any, list[np.ndarray]]:
    from liquidcontrol.envs.driving import DrivingEnv
    from liquidcontrol.envs.driving_expert import PurePursuitExpert

    env = DrivingEnv()
    obs, _ = env.reset(seed=seed)
    expert = PurePursuitExpert()
    frames = [obs["image"]]
    for _ in range(n - 1):
        obs, *_ = env.step(expert.act(env))
        frames.append(obs["image"])
    return env, frames


def _effect(env: Any, name: str, severity: int) -> Any:
    from liquidcontrol.perturb import make_perturbation
    from liquidcontrol.perturb.image import ImageCorruption

    wrapped = make_perturbation(name, severity, seed=0).apply(env)
    assert isinstance(wrapped, ImageCorruption)
    wrapped.reset(seed=0)
    env.unwrapped.set_physics()  # the wet-road part of camera_rain is not timed here
    return wrapped.effect, wrapped.rng


def run(args: argparse.Namespace) -> int:
    import cv2

    from liquidcontrol.perturb.image import IMAGE_PERTURBATIONS

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    cv2.setNumThreads(1)
    env, frames = _driving_frames(args.seed, 16)
    results: dict[str, Any] = {"frame_shape": list(frames[0].shape), "target_ms": TARGET_MS, "ms_per_frame": {}}
    print(f"per-frame cost on {frames[0].shape[0]}x{frames[0].shape[1]} frames, ms (target <= {TARGET_MS} ms)")
    print(f"{'perturbation':<22}" + "".join(f"{'sev ' + str(s):>9}" for s in range(1, 6)))
    examples = Path(args.examples) if args.examples else None
    if examples is not None:
        examples.mkdir(parents=True, exist_ok=True)
    worst = 0.0
    for name in IMAGE_PERTURBATIONS:
        row, strip = [], [frames[-1]]
        for severity in range(1, 6):
            effect, rng = _effect(env, name, severity)
            for f in frames[:8]:  # warm-up, and the slide of rain drops gets going
                effect.apply(f, rng)
            start = time.perf_counter()
            for i in range(args.frames):
                effect.apply(frames[i % len(frames)], rng)
            ms = 1e3 * (time.perf_counter() - start) / args.frames
            row.append(round(ms, 4))
            worst = max(worst, ms)
            strip.append(effect.apply(frames[-1], rng))
        results["ms_per_frame"][name] = row
        print(f"{name:<22}" + "".join(f"{ms:9.3f}" for ms in row))
        if examples is not None:
            img = np.concatenate([np.pad(s, ((2, 2), (2, 2), (0, 0)), constant_values=255) for s in strip], axis=1)
            img = cv2.resize(img, (img.shape[1] * 3, img.shape[0] * 3), interpolation=cv2.INTER_NEAREST)
            path = examples / f"{name}.png"
            ok, buf = cv2.imencode(".png", img[..., ::-1])
            atomic_write_bytes(path, buf.tobytes())
    results["worst_ms"] = round(worst, 4)
    print(f"worst {worst:.3f} ms per frame: {'within' if worst <= TARGET_MS else 'OVER'} the {TARGET_MS} ms target")
    if examples is not None:
        print(f"examples: {examples}/<name>.png (clean, then severities 1-5)")
    env.close()
    if args.json:
        atomic_write_json(args.json, results)
    return 0
