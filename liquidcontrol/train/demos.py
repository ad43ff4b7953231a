"""``liquidcontrol demos --task NAME``: record expert demonstrations to an ``.npz`` file."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np

from liquidcontrol.config import add_dataclass_arguments, dataclass_from_args, option
from liquidcontrol.errors import LiquidControlError
from liquidcontrol.tasks import DEFAULT_TASK


@dataclass
class DemosConfig:
    """Record episodes driven by the task's scripted expert."""

    task: str = option(DEFAULT_TASK, "task name (see liquidcontrol.tasks)")
    episodes: int = option(64, "number of episodes")
    seed: int = option(0, "training seed: episodes come from its demonstration round in the seed plan")
    noise: list[float] = option([], "OU noise on the executed action, one value or one per action dimension (labels stay clean); empty = the task's recipe")
    out: str = option("demos.npz", "output file (.npz)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_dataclass_arguments(parser, DemosConfig)


def run(args: argparse.Namespace) -> int:
    from liquidcontrol.seeds import training_seeds
    from liquidcontrol.tasks import get_task
    from liquidcontrol.train.collect import collect_episodes
    from liquidcontrol.train.model import probe_env

    cfg = dataclass_from_args(DemosConfig, args)
    task = get_task(cfg.task)
    noise = cfg.noise or task.recipe.get("demo_noise", 0.0)
    act_dim = probe_env(task.env_id, task.env_kwargs).act_dim
    if np.size(noise) not in (1, act_dim) or np.min(noise) < 0:
        raise LiquidControlError(f"--noise needs one value or {act_dim} values (one per action), each >= 0; got {noise}.")
    demos, stats = collect_episodes(task, training_seeds(cfg.seed, 0, cfg.episodes), action_noise=noise,
                                    desc="expert demos")
    path = demos.save(cfg.out)
    print(f"saved {len(demos)} episodes ({demos.num_steps} steps, expert success {stats.success_rate:.0%}) to {path}")
    return 0
