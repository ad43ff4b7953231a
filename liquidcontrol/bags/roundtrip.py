"""``liquidcontrol roundtrip --task NAME``: record in sim -> train from the bag vs from the native format.

1. ``liquidcontrol record`` writes the expert demonstrations of training
   seed ``--seed`` as a ROS 2 bag (the task's mapping);
2. DAgger trains twice with the same seed and budget: once recording its
   demonstrations itself (the native path, saved as ``.npz``), once
   behaviour-cloning from the bag (``--demos BAG``);
3. both demonstration sets are compared value by value, and both shipped
   checkpoints drive the same held-out evaluation seeds.

The JSON summary (``--out``) holds the data difference, both training
histories, both success rates with 95 % intervals and the per-seed outcome
agreement.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from liquidcontrol.config import add_dataclass_arguments, dataclass_from_args, option
from liquidcontrol.errors import LiquidControlError
from liquidcontrol.tasks import DEFAULT_TASK


@dataclass
class RoundTripConfig:
    """Train from a recorded bag and from the native demonstrations with the same seeds; compare."""

    task: str = option(DEFAULT_TASK, "task name (see liquidcontrol.tasks)")
    seed: int = option(0, "training seed of both runs")
    demo_episodes: int = option(32, "expert episodes recorded (bag) and collected (native)")
    bc_epochs: int = option(20, "behaviour-cloning passes")
    iterations: int = option(2, "DAgger rounds")
    episodes_per_iteration: int = option(32, "learner episodes per DAgger round")
    epochs_per_iteration: int = option(10, "passes over the aggregated data per round")
    validation_episodes: int = option(50, "validation episodes scoring each round")
    eval_episodes: int = option(200, "held-out evaluation episodes per trained policy")
    work: str = option("runs/roundtrip", "folder for the bag and both training runs (a previous round-trip folder is replaced)")
    out: str = option("", "JSON summary file; empty = print only")
    progress: bool = option(True, "show progress bars")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_dataclass_arguments(parser, RoundTripConfig)


def run(args: argparse.Namespace) -> int:
    summary = roundtrip(dataclass_from_args(RoundTripConfig, args))
    print(json.dumps({k: summary[k] for k in ("data", "native", "bag", "seed_agreement")}, indent=2))
    return 0


def roundtrip(cfg: RoundTripConfig) -> dict[str, Any]:
    import shutil

    from liquidcontrol.bags.record import RecordConfig, record
    from liquidcontrol.bags.writer import round_trip_error
    from liquidcontrol.train.dagger import DaggerConfig, train
    from liquidcontrol.train.data import Demonstrations

    work = Path(cfg.work)
    if work.exists():
        extra = sorted(p.name for p in work.iterdir()) if work.is_dir() else [work.name]
        if not set(extra) <= {"demos_bag", "native", "bag"}:
            raise LiquidControlError(f"--work {work} holds other files ({', '.join(extra[:5])}); the round trip replaces "
                                     "its folder, so choose a new or a previous round-trip folder.")
        shutil.rmtree(work)
    start = time.perf_counter()
    bag = str(work / "demos_bag")
    _, recorded = record(RecordConfig(task=cfg.task, episodes=cfg.demo_episodes, seed=cfg.seed, out=bag,
                                      progress=cfg.progress))
    budget = dict(task=cfg.task, seed=cfg.seed, demo_episodes=cfg.demo_episodes, bc_epochs=cfg.bc_epochs,
                  iterations=cfg.iterations, episodes_per_iteration=cfg.episodes_per_iteration,
                  epochs_per_iteration=cfg.epochs_per_iteration, validation_episodes=cfg.validation_episodes,
                  progress=cfg.progress)
    runs = {"native": train(DaggerConfig(**budget, out=str(work / "native"))),  # type: ignore[arg-type]
            "bag": train(DaggerConfig(**budget, demos=bag, out=str(work / "bag")))}  # type: ignore[arg-type]
    data = round_trip_error(Demonstrations.load(work / "native" / "data" / "iter_000.npz"),
                            Demonstrations.load(work / "bag" / "data" / "iter_000.npz"))
    outcomes = {name: _evaluate(cfg, Path(s["best"])) for name, s in runs.items()}
    agreement = sum(a == b for a, b in zip(outcomes["native"], outcomes["bag"])) / max(cfg.eval_episodes, 1)
    summary = {
        "config": asdict(cfg), "recorded": recorded, "data": data,
        **{name: _result(runs[name], outcomes[name]) for name in runs},
        "seed_agreement": agreement, "seconds": round(time.perf_counter() - start, 1),
        "command": "liquidcontrol roundtrip " + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in asdict(cfg).items()
                                                         if k not in ("progress",)),
    }
    if cfg.out:
        from liquidcontrol.fileio import atomic_write_json

        atomic_write_json(cfg.out, summary)
    return summary


def _evaluate(cfg: RoundTripConfig, checkpoint: Path) -> list[bool]:
    """Outcome per held-out evaluation seed of the checkpoint's policy driving alone."""
    from liquidcontrol.seeds import evaluation_seeds
    from liquidcontrol.tasks import get_task
    from liquidcontrol.train.checkpoint import load_checkpoint
    from liquidcontrol.train.collect import collect_episodes

    policy, _, _ = load_checkpoint(checkpoint)
    _, stats = collect_episodes(get_task(cfg.task), evaluation_seeds(cfg.eval_episodes), policy=policy, label=False,
                                progress=cfg.progress, desc="evaluate")
    return list(stats.outcomes)


def _result(summary: dict[str, Any], outcomes: list[bool]) -> dict[str, Any]:
    from liquidcontrol.evaluate.metrics import wilson_interval

    k, n = sum(outcomes), len(outcomes)
    return {"eval_success": k / max(n, 1), "ci95": list(wilson_interval(k, n)), "eval_episodes": n,
            "best_validation_success": summary["best_success"],
            "validation_history": [h["validation_success"] for h in summary["history"]],
            "train_seconds": round(summary["train_seconds"], 1)}
