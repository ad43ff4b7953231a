"""``liquidcontrol main [--task NAME]``: the whole path on one task (default: parking).

demonstrations -> behaviour cloning -> DAgger -> policy bundle (ONNX +
weights + card) -> evaluation on held-out seeds (expert, torch policy, the
shipped ``policy.onnx`` through ``liquidcontrol.runtime``; then the task's
perturbation sweep) -> ONNX check on the shipped file (outcomes per seed and
actions on the same observations, see ``evaluate.onnx_check``) -> the
evaluation is written into the bundle's card without re-tracing -> report.
Every stage prints its wall-clock time; budgets are counts, so the same seed
and budget give the same policy on any machine. Seeds follow
``liquidcontrol.seeds``. Nothing here names a task: everything task-specific
comes from ``liquidcontrol.tasks``.
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
from liquidcontrol.fileio import atomic_write_json
from liquidcontrol.tasks import DEFAULT_TASK

EVAL_FIRST_SEED = 0
ACTION_CHECK_EPISODES = 20  # episodes over which torch and ONNX see the same observations

# Training budgets: "full" is the recipe behind the README's figures (DaggerConfig's defaults).
BUDGETS: dict[str, dict[str, Any]] = {
    "full": {},
    "tiny": dict(demo_episodes=4, bc_epochs=2, iterations=1, episodes_per_iteration=4,
                 epochs_per_iteration=1, validation_episodes=4, n_envs=4),
}


@dataclass
class MainConfig:
    """Train, evaluate, export and report a policy on one task."""

    task: str = option(DEFAULT_TASK, "task name (see liquidcontrol.tasks)")
    out: str = option("runs/main", "output folder (train/, bundle/, report/)")
    kind: str = option("", "model kind (see liquidcontrol.policies.MODEL_KINDS); empty = the task's default")
    units: int = option(0, "neurons (liquid kinds) or hidden units (baselines); 0 = the task's default")
    param_budget: int = option(0, "baselines only: about this many trainable parameters instead of --units")
    seed: int = option(0, "training seed")
    budget: str = option("full", "training budget preset", choices=list(BUDGETS))
    eval_episodes: int = option(500, "held-out episodes for the clean evaluation of each agent")
    sweep_episodes: int = option(50, "episodes per perturbed condition")
    severities: list[int] = option([1, 3, 5], "severities of the perturbation sweep")
    perturbations: list[str] = option([], "perturbations of the sweep; empty = the task's sweep, 'none' = no sweep")
    train_perturbations: list[str] = option([], "perturbations ('name:severity') the learner meets in half of its DAgger rollouts; reported as seen in training")
    expert: bool = option(True, "also evaluate the scripted expert (the privileged ceiling)")
    n_envs: int = option(16, "envs stepped in lockstep during evaluation")
    max_minutes: float = option(0.0, "optional safety cap on training minutes (0 = none); the interrupted round still validates")
    resume: bool = option(False, "continue an interrupted training run in --out")
    progress: bool = option(True, "show progress (a bar on a terminal, a line every 30 s in logs)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_dataclass_arguments(parser, MainConfig)


def run(args: argparse.Namespace) -> int:
    return main_job(dataclass_from_args(MainConfig, args))["exit_code"]


class _Clock:
    """Prints and records the wall-clock time of each stage, and the CPU time this process used in it
    (on a shared machine the wall clock also counts other processes' turns; the CPU time does not)."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.stages: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._cpu0 = time.process_time()

    def stage(self, name: str, since: float) -> None:
        self.stages[name] = round(time.perf_counter() - since, 1)
        now = time.process_time()
        self.cpu[name] = round(now - self._cpu0, 1)
        self._cpu0 = now
        print(f"[{name}] {self.stages[name]:.1f} s, CPU {self.cpu[name]:.1f} s "
              f"(total {time.perf_counter() - self.start:.1f} s)", flush=True)


def _sweep_names(cfg: MainConfig, task: Any) -> list[str]:
    return list(task.sweep) if not cfg.perturbations else [p for p in cfg.perturbations if p != "none"]


def check_config(cfg: MainConfig, task: Any) -> list[str]:
    """Every setting a user can get wrong, checked before hours of training; returns the sweep."""
    from liquidcontrol.evaluate.sweep import sweep_conditions
    from liquidcontrol.perturb import make_perturbation, parse_item
    from liquidcontrol.seeds import evaluation_seeds
    from liquidcontrol.train.dagger import resolve

    if cfg.budget not in BUDGETS:
        raise LiquidControlError(f"unknown budget {cfg.budget!r}; choose from {sorted(BUDGETS)}.")
    if cfg.eval_episodes <= 0 or cfg.n_envs <= 0:
        raise LiquidControlError(f"--eval-episodes and --n-envs must be positive, got {cfg.eval_episodes} and {cfg.n_envs}.")
    evaluation_seeds(cfg.eval_episodes, first=EVAL_FIRST_SEED)
    names = _sweep_names(cfg, task)
    if names and cfg.severities:
        if cfg.sweep_episodes <= 0:
            raise LiquidControlError(f"--sweep-episodes must be positive, got {cfg.sweep_episodes}.")
        evaluation_seeds(cfg.sweep_episodes, first=EVAL_FIRST_SEED)
    sweep_conditions(names, cfg.severities)  # unknown names and bad severities fail here
    for item in cfg.train_perturbations:
        make_perturbation(*parse_item(item))
    resolve(_dagger_config(cfg, Path(cfg.out) / "train"))  # kind, sizes, budgets against the seed plan
    return names


def main_job(cfg: MainConfig) -> dict[str, Any]:
    """Run every stage; returns the summary written to ``report/summary.json``."""
    from liquidcontrol.tasks import get_task

    task = get_task(cfg.task)
    sweep_names = check_config(cfg, task)
    out, clock = Path(cfg.out), _Clock()
    t = time.perf_counter()
    training = _train(cfg, out / "train")
    clock.stage("train", t)
    t = time.perf_counter()
    policy, record = _load_best(training)
    bundle = _export(out / "bundle", policy, record, training, task)
    clock.stage("export", t)
    t = time.perf_counter()
    clean, sweep = _evaluate(cfg, task, policy, bundle, sweep_names, training)
    check = _onnx_check(cfg, task, policy, bundle, clean)
    clock.stage("evaluate", t)
    t = time.perf_counter()
    summary = _summarise(cfg, task, training, clean, check, bundle)
    _write_reports(out / "report", task, policy, clean, sweep, summary)
    from liquidcontrol.export import update_bundle_card

    update_bundle_card(bundle, evaluation={"clean": summary["clean"], "onnx_check": check})
    clock.stage("report", t)
    summary["seconds"] = clock.stages
    summary["cpu_seconds"] = clock.cpu
    atomic_write_json(out / "report" / "summary.json", summary)
    _print_summary(summary, out)
    return summary


def _dagger_config(cfg: MainConfig, folder: Path) -> Any:
    from liquidcontrol.train.dagger import DaggerConfig

    return DaggerConfig(task=cfg.task, kind=cfg.kind, units=cfg.units, param_budget=cfg.param_budget,
                        seed=cfg.seed, out=str(folder), resume=cfg.resume, progress=cfg.progress,
                        train_perturbations=list(cfg.train_perturbations), max_minutes=cfg.max_minutes,
                        **BUDGETS[cfg.budget])


def _train(cfg: MainConfig, folder: Path) -> dict[str, Any]:
    from liquidcontrol.train.dagger import train

    summary = train(_dagger_config(cfg, folder))
    summary["recipe"] = {"algo": "bc+dagger", **summary["config"]}
    return summary


def _load_best(training: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    from liquidcontrol.train.checkpoint import load_checkpoint

    policy, record, _ = load_checkpoint(training["best"])
    return policy.eval(), record


def _export(bundle: Path, policy: Any, record: dict[str, Any], training: dict[str, Any], task: Any) -> Path:
    from liquidcontrol.export import save_bundle
    from liquidcontrol.export.layouts import env_card_fields

    fields = {
        **env_card_fields(task.env_id, task.env_kwargs),
        "task": task.name,
        "training": {"recipe": training["recipe"], "env_kwargs": dict(task.env_kwargs),
                     "best_iteration": record.get("iteration"),
                     "best_validation_success": training["best_success"],
                     "train_seconds": round(training["train_seconds"], 1)},
    }
    save_bundle(bundle, policy, fields)
    return bundle


def _evaluate(cfg: MainConfig, task: Any, policy: Any, bundle: Path, sweep_names: list[str],
              training: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """Clean: expert, torch and the shipped ONNX on ``eval_episodes`` held-out seeds.
    Sweep: expert and torch policy under every perturbation and severity."""
    from liquidcontrol.evaluate import (
        evaluate,
        expert_agent,
        runtime_agent,
        sweep_conditions,
        torch_agent,
    )
    from liquidcontrol.perturb.registry import parse_item

    kind = training["config"]["kind"]
    common: dict[str, Any] = dict(n_envs=cfg.n_envs, progress=cfg.progress, task=task)
    agents = [torch_agent(policy, name=f"{kind} (torch)"), runtime_agent(bundle, "onnxruntime", name=f"{kind} (ONNX)")]
    if cfg.expert:
        agents.insert(0, expert_agent(task.make_expert, name="expert"))
    clean_only = sweep_conditions([], severities=[])
    clean = [evaluate(a, task.env_id, clean_only, cfg.eval_episodes, EVAL_FIRST_SEED, **common) for a in agents]
    sweep = []
    if sweep_names and cfg.severities:
        conds = sweep_conditions(sweep_names, severities=cfg.severities)
        seen = sorted(set(task.seen_in_training) | {parse_item(p)[0] for p in cfg.train_perturbations})
        drivers = agents[:2] if cfg.expert else agents[:1]
        sweep = [evaluate(a, task.env_id, conds, cfg.sweep_episodes, EVAL_FIRST_SEED, seen_in_training=seen, **common)
                 for a in drivers]
    return clean, sweep


def _onnx_check(cfg: MainConfig, task: Any, policy: Any, bundle: Path, clean: list[Any]) -> dict[str, Any]:
    from liquidcontrol.evaluate import evaluate, sweep_conditions
    from liquidcontrol.evaluate.onnx_check import add_jitter_baseline, max_action_delta, onnx_check
    from liquidcontrol.seeds import evaluation_seeds

    torch_res, onnx_res = clean[-2], clean[-1]
    seeds = evaluation_seeds(min(ACTION_CHECK_EPISODES, cfg.eval_episodes), first=EVAL_FIRST_SEED)
    delta, steps = max_action_delta(policy, bundle, task.env_id, seeds, n_envs=cfg.n_envs, env_kwargs=task.env_kwargs)
    torch_episodes = torch_res.conditions[0].episodes
    check = onnx_check(torch_episodes, onnx_res.conditions[0].episodes, delta, steps)
    return add_jitter_baseline(check, policy, torch_episodes, lambda agent: evaluate(  # the clean evaluation's seeds
        agent, task.env_id, sweep_conditions([], severities=[]), cfg.eval_episodes, EVAL_FIRST_SEED,
        n_envs=cfg.n_envs, progress=cfg.progress, task=task).conditions[0].episodes)


def _summarise(cfg: MainConfig, task: Any, training: dict[str, Any], clean: list[Any], check: dict[str, Any],
               bundle: Path) -> dict[str, Any]:
    rates = {r.agent: r.metrics("clean") for r in clean}
    config = training["config"]
    return {
        "config": asdict(cfg),
        "task": task.name, "env_id": task.env_id, "kind": config["kind"], "units": config["units"],
        "budget": cfg.budget, "seed": cfg.seed, "bundle": str(bundle),
        "parameters": _parameter_counts(bundle),
        "clean": {name: {"success": m.success_rate, "ci95": [m.success_ci_low, m.success_ci_high],
                         "episodes": cfg.eval_episodes} for name, m in rates.items()},
        "onnx_check": check,
        "expert_success": rates["expert"].success_rate if "expert" in rates else None,
        "training": {"history": training["history"], "best_validation_success": training["best_success"],
                     "train_seconds": round(training["train_seconds"], 1), "steps": training["steps"],
                     "capped": training["capped"], "recipe": training["recipe"]},
        "exit_code": 0 if check["passed"] else 3,
    }


def _parameter_counts(bundle: Path) -> dict[str, Any]:
    from liquidcontrol.runtime.card import load_card

    model = load_card(bundle).to_dict()["model"]
    return {"nominal": model.get("parameter_count"), "trainable": model.get("trainable_parameter_count")}


def _write_reports(folder: Path, task: Any, policy: Any, clean: list[Any], sweep: list[Any],
                   summary: dict[str, Any]) -> None:
    from liquidcontrol.evaluate import torch_agent
    from liquidcontrol.evaluate.main_report import write_main_report

    write_main_report(folder, task, torch_agent(policy, name=summary["kind"]), clean, sweep, summary,
                      video_seed=EVAL_FIRST_SEED, policy=policy)


def _print_summary(s: dict[str, Any], out: Path) -> None:
    print(json.dumps({k: s[k] for k in ("clean", "onnx_check", "seconds")}, indent=2))
    if not s["onnx_check"]["passed"]:
        from liquidcontrol.evaluate.onnx_check import failure_reason

        print(f"ONNX check FAILED: {failure_reason(s['onnx_check'])} (exit code 3).")
    print(f"report: {out / 'report' / 'index.html'}")
