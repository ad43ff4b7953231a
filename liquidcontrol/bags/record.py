"""``liquidcontrol record --task NAME --out BAG``: expert episodes as a ROS 2 bag (mcap storage).

The episodes are those of ``liquidcontrol demos`` with the same ``--seed``,
``--episodes`` and ``--noise`` (the seed plan's demonstration round), so a
bag and a native ``.npz`` file hold the same data. ``--mapping`` names the
topics and fields (default: the shipped mapping for the task's env, e.g.
Odometry + JointState + Range + TwistStamped for parking; for a task without
one, ``std_msgs/Float32MultiArray`` vectors on ``/liquidcontrol/observation``
and ``/liquidcontrol/action``).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np

from liquidcontrol.config import add_dataclass_arguments, dataclass_from_args, option
from liquidcontrol.errors import LiquidControlError
from liquidcontrol.tasks import DEFAULT_TASK


@dataclass
class RecordConfig:
    """Record episodes driven by the task's scripted expert as a ROS 2 bag."""

    task: str = option(DEFAULT_TASK, "task name (see liquidcontrol.tasks)")
    episodes: int = option(64, "number of episodes")
    seed: int = option(0, "training seed: episodes come from its demonstration round in the seed plan")
    noise: list[float] = option([], "OU noise on the executed action, one value or one per action dimension (labels stay clean); empty = the task's recipe")
    mapping: str = option("", "topic mapping file (.yaml/.json); empty = the shipped mapping for the task's env, else generic vectors")
    out: str = option("demos_bag", "output: a ROS 2 bag folder (metadata.yaml + one .mcap file), or one .mcap file if it ends in .mcap; replaced whole if it exists")
    progress: bool = option(True, "show progress bars")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_dataclass_arguments(parser, RecordConfig)


def run(args: argparse.Namespace) -> int:
    cfg = dataclass_from_args(RecordConfig, args)
    path, summary = record(cfg)
    print(f"saved {summary['episodes']} episodes ({summary['steps']} steps, {summary['messages']} messages on "
          f"{summary['topics']} topics, expert success {summary['expert_success']:.0%}) to {path}")
    return 0


def record(cfg: RecordConfig) -> tuple[str, dict]:
    """Collect the episodes and write the bag; returns its path and a summary."""
    from liquidcontrol.bags import layout_names
    from liquidcontrol.bags.mapping import default_mapping, load_mapping
    from liquidcontrol.bags.writer import write_bag
    from liquidcontrol.seeds import training_seeds
    from liquidcontrol.tasks import get_task
    from liquidcontrol.train.collect import collect_episodes

    task = get_task(cfg.task)
    obs_names, act_names = layout_names(task)
    mapping = load_mapping(cfg.mapping) if cfg.mapping else default_mapping(task.env_id, obs_names, act_names)
    mapping.check_layout(obs_names, act_names, f"task {task.name!r}")
    noise = cfg.noise or task.recipe.get("demo_noise", 0.0)
    if np.size(noise) not in (1, len(act_names)) or np.min(noise) < 0:
        raise LiquidControlError(f"--noise needs one value or {len(act_names)} values (one per action), each >= 0; "
                                 f"got {noise}.")
    seeds = training_seeds(cfg.seed, 0, cfg.episodes)
    demos, stats = collect_episodes(task, seeds, action_noise=noise, desc="expert demos", progress=cfg.progress)
    info = [{"seed": s, "expert_success": bool(ok)} for s, ok in zip(seeds, stats.outcomes)]
    meta = {**demos.meta, "recorded_by": "liquidcontrol record"}
    write_bag(cfg.out, demos, mapping, obs_names, act_names, info, meta, progress=cfg.progress)
    used = {c.topic for c in (*mapping.observation, *mapping.action)}
    summary = {"episodes": len(demos), "steps": demos.num_steps, "topics": len(used) + bool(mapping.episode_topic),
               "messages": demos.num_steps * len(used) + (len(demos) if mapping.episode_topic else 0),
               "expert_success": stats.success_rate}
    return cfg.out, summary
