"""PPO throughput (env steps/s of ``learn``, rollouts and updates): liquid PPO vs SB3 MLP PPO and sb3-contrib RecurrentPPO.

In one run, on one torch thread and the same task, vector env (``n_envs``
DummyVecEnv copies), rollout length, minibatch size and epochs, it times
``learn`` for:

- ``LiquidPPO`` with the task's liquid model (CfC-NCP 30 on the drone) and
  with an LSTM of the liquid model's trainable parameter count;
- stable-baselines3 ``PPO("MlpPolicy")`` (no memory; the speed ceiling);
- sb3-contrib ``RecurrentPPO("MlpLstmPolicy")``, with its default LSTM (256
  units) and with a small one (``--small-lstm`` units).

It prints steps/s and the ratio of liquid PPO to each (target: >= 2x
RecurrentPPO's LSTM). Shared machines are noisy: the median of
``--repeats`` runs is reported and nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.fileio import atomic_write_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from liquidcontrol.bench.env import task_name

    parser.add_argument("task", nargs="?", default="drone_single", type=task_name,
                        help="task whose env to train on (default drone_single)")
    parser.add_argument("--rollouts", type=int, default=3, help="rollouts (each followed by its update) per timed run")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per model; the median is reported")
    parser.add_argument("--n-envs", type=int, default=8)
    parser.add_argument("--n-steps", type=int, default=256, help="steps per env per rollout")
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--n-epochs", type=int, default=5)
    parser.add_argument("--small-lstm", type=int, default=32, help="units of the small RecurrentPPO LSTM")
    parser.add_argument("--quick", action="store_true", help="tiny budgets (smoke test; figures meaningless)")
    parser.add_argument("--json", default=None, metavar="PATH", help="also write the results as JSON to PATH")


def _contenders(task: Any, args: argparse.Namespace) -> dict[str, Callable[[Any], Any]]:
    from sb3_contrib import RecurrentPPO
    from stable_baselines3 import PPO

    from liquidcontrol.rl import LiquidPPO

    common = dict(n_steps=args.n_steps, batch_size=args.batch_size, n_epochs=args.n_epochs, seed=0, verbose=0)
    liquid_name = f"LiquidPPO {task.kind} {task.units}"

    def liquid(env: Any) -> Any:
        return LiquidPPO(task.kind, env, units=task.units, **common)

    def lstm_matched(env: Any) -> Any:
        budget = liquid(env).actor.num_parameters()
        return LiquidPPO("lstm", env, param_budget=budget, **common)

    return {
        liquid_name: liquid,
        "LiquidPPO lstm (same parameters)": lstm_matched,
        "SB3 PPO MlpPolicy": lambda env: PPO("MlpPolicy", env, **common),
        "RecurrentPPO MlpLstmPolicy (256)": lambda env: RecurrentPPO("MlpLstmPolicy", env, **common),
        f"RecurrentPPO MlpLstmPolicy ({args.small_lstm})": lambda env: RecurrentPPO(
            "MlpLstmPolicy", env, policy_kwargs={"lstm_hidden_size": args.small_lstm}, **common),
    }


def run(args: argparse.Namespace) -> int:
    import gymnasium as gym
    import torch
    from stable_baselines3.common.vec_env import DummyVecEnv

    import liquidcontrol.envs  # noqa: F401 - registers the ids
    from liquidcontrol.tasks import get_task

    if args.quick:
        args.rollouts, args.repeats, args.n_envs, args.n_steps, args.batch_size, args.n_epochs = 1, 1, 2, 32, 64, 1
    for name in ("rollouts", "repeats", "n_envs", "n_steps", "batch_size", "n_epochs"):
        if getattr(args, name) < 1:
            raise LiquidControlError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}.")
    torch.set_num_threads(1)
    task = get_task(args.task)
    steps = args.rollouts * args.n_envs * args.n_steps
    results: dict[str, Any] = {}
    for name, build in _contenders(task, args).items():
        env = DummyVecEnv([lambda: gym.make(task.env_id, **task.env_kwargs) for _ in range(args.n_envs)])
        model = build(env)
        model.learn(args.n_envs * args.n_steps)  # warm-up: one rollout and update
        rates = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            model.learn(steps, reset_num_timesteps=False)
            rates.append(steps / (time.perf_counter() - start))
        policy = model.policy
        results[name] = {"steps_per_s": statistics.median(rates), "runs": rates,
                         "trainable_parameters": int(sum(p.numel() for p in policy.parameters() if p.requires_grad))}
        if hasattr(model, "actor"):
            results[name]["actor_parameters"] = int(model.actor.num_parameters())
        env.close()
        print(f"{name:40s} {results[name]['steps_per_s']:8.0f} env steps/s "
              f"({results[name]['trainable_parameters']} trainable parameters, actor and critic)", flush=True)
    liquid = next(iter(results))
    ratios = {other: results[liquid]["steps_per_s"] / r["steps_per_s"] for other, r in results.items() if other != liquid}
    for other, ratio in ratios.items():
        print(f"{liquid} / {other}: {ratio:.2f}x")
    if args.json:
        atomic_write_json(args.json, {"task": task.name, "env_id": task.env_id, "env_kwargs": dict(task.env_kwargs),
                                      "settings": {k: getattr(args, k) for k in ("rollouts", "repeats", "n_envs",
                                                                                   "n_steps", "batch_size", "n_epochs",
                                                                                   "small_lstm")},
                                      "torch_threads": 1, "results": results, "ratios_vs_liquid": ratios})
    return 0
