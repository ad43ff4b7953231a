"""Env speed of a task: its env against raw MuJoCo physics and the task's peer environment.

In one run on one thread: env steps/s (random actions, resets included);
the same model stepped by bare ``mj_step`` (``frame_skip`` physics steps per
control step, from a live state, no Python around it); env steps/s with the
scripted expert acting (DAgger's cost); for a camera task, frames/s of its
observation image alone; and, if the task names a peer
benchmark (parking: highway-env ``parking-v0``) and it is installed, the
peer's steps/s. Target: env step time <= 2x the raw physics time. Timings are
noisy on a shared machine; nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.fileio import atomic_write_json


def task_name(text: str) -> str:
    """argparse type: a registered task name (unknown names are rejected at parse time)."""
    from liquidcontrol.tasks import get_task

    try:
        return get_task(text).name
    except LiquidControlError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task", type=task_name, help="task whose env to benchmark (see liquidcontrol.tasks), e.g. parking")
    parser.add_argument("--steps", type=int, default=4000, help="timed control steps per repetition (default 4000)")
    parser.add_argument("--repeats", type=int, default=3, help="repetitions; the median is reported (default 3)")
    parser.add_argument("--highway-steps", type=int, default=150,
                        help="timed highway-env steps (default 150; it runs at ~70 steps/s)")
    parser.add_argument("--quick", action="store_true", help="tiny budgets (smoke test; figures meaningless)")
    parser.add_argument("--json", default=None, metavar="PATH", help="also write the results as JSON to PATH")


def _median_rate(fn: Callable[[int], None], steps: int, repeats: int) -> float:
    """Median steps per second of ``fn(steps)`` over ``repeats`` timed runs (after a warm-up)."""
    fn(max(steps // 10, 1))
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(steps)
        rates.append(steps / (time.perf_counter() - start))
    return statistics.median(rates)


REWIND_STEPS = 20  # control steps between returns to the live state in the raw-physics timing


def _env_rates(task: Any, steps: int, repeats: int) -> dict[str, float]:
    """Steps/s of the task's env, of raw mj_step on its model (from a live state), and
    env steps/s with the expert acting every step (what DAgger does)."""
    import gymnasium as gym

    env = gym.make(task.env_id, **task.env_kwargs)
    env.reset(seed=0)
    space = env.action_space
    assert isinstance(space, gym.spaces.Box), "bench env needs a Box action space"
    actions = np.random.default_rng(0).uniform(space.low, space.high, size=(1024, *space.shape)).astype(np.float32)

    def env_steps(n: int) -> None:
        for i in range(n):
            _, _, terminated, truncated, _ = env.step(actions[i & 1023])
            if terminated or truncated:
                env.reset()

    rates = {"env_steps_per_s": _median_rate(env_steps, steps, repeats)}
    base = env.unwrapped
    if hasattr(base, "model") and hasattr(base, "data"):
        import mujoco

        env.reset(seed=0)
        for i in range(20):  # a live state: wheels turning, contacts on, the env's own controls set
            env.step(actions[i])
        model, live = base.model, base.data
        data = mujoco.MjData(model)
        mujoco.mj_copyData(data, model, live)
        skip = int(getattr(base, "frame_skip", 1))

        def raw_steps(n: int) -> None:
            # Back to the live state every second of control: held controls would otherwise
            # drive some models (a drone) far from anything the env ever simulates.
            for i in range(n):
                mujoco.mj_step(model, data, nstep=skip)
                if i % REWIND_STEPS == REWIND_STEPS - 1:
                    mujoco.mj_copyData(data, model, live)
            mujoco.mj_copyData(data, model, live)

        rates["raw_mj_steps_per_s"] = _median_rate(raw_steps, steps, repeats)
    camera = getattr(base, "camera_image", None)
    if callable(camera):  # a camera task: rendering one observation image, the same state again and again
        env.reset(seed=0)
        camera()

        def frames(n: int) -> None:
            for _ in range(n):
                camera()

        rates["camera_frames_per_s"] = _median_rate(frames, steps, repeats)
    expert = task.make_expert()
    env.reset(seed=1)
    expert.reset()

    def expert_calls(n: int) -> None:
        for _ in range(n):
            _, _, terminated, truncated, _ = env.step(expert.act(env.unwrapped))
            if terminated or truncated:
                env.reset()
                expert.reset()

    rates["expert_env_steps_per_s"] = _median_rate(expert_calls, max(steps // 4, 1), repeats)
    env.close()
    return rates


def run(args: argparse.Namespace) -> int:
    from liquidcontrol.tasks import get_task

    task = get_task(args.task)
    steps, peer_steps = (200, 10) if args.quick else (args.steps, args.highway_steps)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    rates: dict[str, Any] = {"task": task.name, **_env_rates(task, steps, 1 if args.quick else args.repeats)}
    env_us = 1e6 / rates["env_steps_per_s"]
    print(f"{task.env_id:<26} {rates['env_steps_per_s']:10.0f} steps/s  ({env_us:6.1f} us/step)")
    if "raw_mj_steps_per_s" in rates:
        raw_us = 1e6 / rates["raw_mj_steps_per_s"]
        rates["env_over_physics"] = env_us / raw_us
        print(f"raw mj_step x frame_skip   {rates['raw_mj_steps_per_s']:10.0f} steps/s  ({raw_us:6.1f} us/step)")
        print(f"env time / physics time    {rates['env_over_physics']:10.2f}    (target <= 2: overhead <= physics)")
    if "camera_frames_per_s" in rates:
        print(f"camera image alone         {rates['camera_frames_per_s']:10.0f} frames/s")
    print(f"env + expert (DAgger-like) {rates['expert_env_steps_per_s']:10.0f} steps/s")
    if task.peer_benchmark is not None:
        name, peer = task.peer_benchmark(peer_steps)
        rates["peer"] = {"name": name, "steps_per_s": peer}
        if peer is None:
            print(f"{name} not installed: skipped (pip install 'liquidcontrol[bench]')")
        else:
            rates["speedup_vs_peer"] = rates["env_steps_per_s"] / peer
            print(f"{name:<26} {peer:10.0f} steps/s")
            print(f"speed-up vs peer           {rates['speedup_vs_peer']:10.1f}x")
    if args.json:
        atomic_write_json(args.json, rates)
    return 0
