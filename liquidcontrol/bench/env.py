"""Env speed: ``liquidcontrol/Parking-v0`` against raw MuJoCo and highway-env ``parking-v0``.

In one run on one thread: env steps/s (random actions, resets included);
the same model stepped by bare ``mj_step`` (``frame_skip`` physics steps per
control step, no Python around it); the scripted expert's cost per call;
and, if highway-env is installed, its ``parking-v0`` steps/s. Targets: env
step time <= 2x the raw physics time (overhead <= physics), and >= 50x the
steps/s of highway-env. Timings are noisy on a shared machine; nothing is
asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from liquidcontrol.fileio import atomic_write_json

TASKS = ("parking",)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task", choices=TASKS, help="which env to benchmark")
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


def _parking_rates(steps: int, repeats: int) -> dict[str, float]:
    """Steps/s of the env, of raw mj_step on its model, and calls/s of the expert."""
    import mujoco

    from liquidcontrol.envs import ParallelParkingExpert, ParkingEnv

    env = ParkingEnv()
    env.reset(seed=0)
    actions = np.random.default_rng(0).uniform(-1, 1, size=(1024, 2)).astype(np.float32)

    def env_steps(n: int) -> None:
        for i in range(n):
            _, _, terminated, truncated, _ = env.step(actions[i & 1023])
            if terminated or truncated:
                env.reset()

    model, data = env.model, mujoco.MjData(env.model)
    data.ctrl[:] = (0.2, 0.2, 4.0, 4.0)  # a gentle turn, so contacts and wheels are live

    def raw_steps(n: int) -> None:
        for _ in range(n):
            mujoco.mj_step(model, data, nstep=env.frame_skip)
        mujoco.mj_resetData(model, data)

    expert = ParallelParkingExpert()
    env.reset(seed=1)

    def expert_calls(n: int) -> None:
        for _ in range(n):
            _, _, terminated, truncated, _ = env.step(expert.act(env))
            if terminated or truncated:
                env.reset()

    return {
        "env_steps_per_s": _median_rate(env_steps, steps, repeats),
        "raw_mj_steps_per_s": _median_rate(raw_steps, steps, repeats),
        "expert_env_steps_per_s": _median_rate(expert_calls, max(steps // 4, 1), repeats),
    }


def _highway_rate(steps: int) -> float | None:
    """Steps/s of highway-env ``parking-v0``, or None if it is not installed."""
    try:
        import gymnasium as gym
        import highway_env  # noqa: F401  (registers parking-v0)
    except ImportError:
        return None
    env = gym.make("parking-v0")
    env.reset(seed=0)
    rng = np.random.default_rng(0)

    def run(n: int) -> None:
        for _ in range(n):
            _, _, terminated, truncated, _ = env.step(rng.uniform(-1, 1, 2).astype(np.float32))
            if terminated or truncated:
                env.reset()

    rate = _median_rate(run, steps, 1)
    env.close()
    return rate


def run(args: argparse.Namespace) -> int:
    steps, highway_steps = (200, 10) if args.quick else (args.steps, args.highway_steps)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    rates: dict[str, Any] = _parking_rates(steps, 1 if args.quick else args.repeats)
    env_us, raw_us = 1e6 / rates["env_steps_per_s"], 1e6 / rates["raw_mj_steps_per_s"]
    rates["env_over_physics"] = env_us / raw_us
    print(f"Parking-v0 env             {rates['env_steps_per_s']:10.0f} steps/s  ({env_us:6.1f} us/step)")
    print(f"raw mj_step x frame_skip   {rates['raw_mj_steps_per_s']:10.0f} steps/s  ({raw_us:6.1f} us/step)")
    print(f"env time / physics time    {rates['env_over_physics']:10.2f}    (target <= 2: overhead <= physics)")
    print(f"env + expert (DAgger-like) {rates['expert_env_steps_per_s']:10.0f} steps/s")
    highway = _highway_rate(highway_steps)
    rates["highway_parking_steps_per_s"] = highway
    if highway is None:
        print("highway-env not installed: skipped (pip install 'liquidcontrol[bench]')")
    else:
        rates["speedup_vs_highway"] = rates["env_steps_per_s"] / highway
        print(f"highway-env parking-v0     {highway:10.0f} steps/s")
        print(f"speed-up vs highway-env    {rates['speedup_vs_highway']:10.1f}x   (target >= 50x)")
    if args.json:
        atomic_write_json(args.json, rates)
    return 0
