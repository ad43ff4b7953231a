"""``liquidcontrol demos``: record expert demonstrations to an ``.npz`` file."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from liquidcontrol.config import add_dataclass_arguments, dataclass_from_args, option


@dataclass
class DemosConfig:
    """Record episodes driven by the task's scripted expert."""

    env_id: str = option("liquidcontrol/Parking-v0", "Gymnasium env id")
    episodes: int = option(64, "number of episodes")
    seed: int = option(1_000_000, "seed of the first episode (the next ones count up)")
    noise: list[float] = option([0.1, 0.0], "OU noise on the executed action, one value or one per action dimension; labels stay clean")
    out: str = option("demos.npz", "output file (.npz)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_dataclass_arguments(parser, DemosConfig)


def run(args: argparse.Namespace) -> int:
    import liquidcontrol.envs  # noqa: F401 - registers the ids
    from liquidcontrol.train.collect import collect_episodes

    cfg = dataclass_from_args(DemosConfig, args)
    demos, stats = collect_episodes(cfg.env_id, cfg.episodes, cfg.seed, action_noise=cfg.noise, desc="expert demos")
    path = demos.save(cfg.out)
    print(f"saved {len(demos)} episodes ({demos.num_steps} steps, expert success {stats.success_rate:.0%}) to {path}")
    return 0
