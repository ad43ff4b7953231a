"""``liquidcontrol eval``: evaluate policy bundles and/or the expert, clean and perturbed.

Examples::

    liquidcontrol eval --bundle policies/pretrained/parking_cfc_ncp12 --backend torch onnx --expert true
    liquidcontrol eval --task parking --expert true --perturbations rain obs_delay --severities 1 3 5 --episodes 50

Every agent plays the same seeded episodes in every condition; the report
folder gets results.json, results.csv, success_vs_severity.png, report.md,
report.html and episode.mp4 (or .gif).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from liquidcontrol.config import add_dataclass_arguments, dataclass_from_args, option
from liquidcontrol.errors import LiquidControlError
from liquidcontrol.evaluate.agents import (
    AgentFactory,
    check_bundle,
    expert_agent,
    runtime_agent,
    torch_bundle_agent,
)
from liquidcontrol.tasks import DEFAULT_TASK, Task, get_task, task_for_env

BACKENDS = {"torch": None, "onnx": "onnxruntime", "numpy": "numpy"}


@dataclass
class EvalConfig:
    bundle: list[str] = option([], "policy bundle folder(s) to evaluate")
    backend: list[str] = option(["torch"], "how to run each bundle: torch, onnx (onnxruntime) and/or numpy")
    expert: bool = option(False, "also evaluate the task's scripted expert (alone if no bundle is given)")
    task: str = option("", f"task name; default: the first bundle's task (from its env id), else {DEFAULT_TASK}")
    episodes: int = option(20, "seeded episodes per condition")
    seed: int = option(0, "first held-out evaluation seed (episodes use seed, seed+1, ...)")
    perturbations: list[str] = option(
        [], "perturbations to sweep (see liquidcontrol.perturb.PERTURBATIONS); empty = the task's sweep, 'none' = clean only",
    )
    severities: list[int] = option([1, 3, 5], "severities 1-5 to evaluate each perturbation at")
    out: str = option("eval_report", "output folder for results, plot, video and report")
    n_envs: int = option(4, "envs stepped in lockstep per condition")
    max_steps: int = option(0, "truncate episodes after this many steps (0 = env's own limit)")
    video: bool = option(True, "record one clean episode of the first agent")
    progress: bool = option(True, "show progress bars")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_dataclass_arguments(parser, EvalConfig)


def agent_factories(cfg: EvalConfig, task: Task) -> list[AgentFactory]:
    """Factories for every (bundle, backend) pair, then the expert; clear errors for bad input."""
    unknown = [b for b in cfg.backend if b not in BACKENDS]
    if unknown:
        raise LiquidControlError(f"unknown backend(s) {unknown}; choose from {', '.join(BACKENDS)}.")
    factories: list[AgentFactory] = []
    for folder in cfg.bundle:
        for backend in cfg.backend:
            label = f"{Path(folder).name} ({backend})"
            runtime = BACKENDS[backend]
            if runtime is None:
                factories.append(torch_bundle_agent(folder, name=label))
            else:
                factories.append(runtime_agent(folder, runtime, name=label))
    if cfg.expert:
        factories.append(expert_agent(task.make_expert))
    if not factories:
        raise LiquidControlError("nothing to evaluate: give --bundle FOLDER and/or --expert true.")
    return factories


def _bundle_task(folder: str) -> Task:
    """The task a bundle was trained on: its card's ``task``, else the task of its env id."""
    from liquidcontrol.runtime.card import load_card

    check_bundle(folder)  # missing folder / card / corrupt JSON: the usual one-line errors
    card = load_card(folder)
    if card.task:
        return get_task(card.task)
    task = task_for_env(card.env_id)
    if task is None:
        raise LiquidControlError(f"no registered task uses the env id {card.env_id!r} of bundle {folder}; pass --task.")
    return task


def resolve_task(cfg: EvalConfig) -> Task:
    """``--task``, else the first bundle's task, else the default task; every bundle must fit it."""
    task = get_task(cfg.task) if cfg.task else _bundle_task(cfg.bundle[0]) if cfg.bundle else get_task(DEFAULT_TASK)
    for folder in cfg.bundle:
        other = _bundle_task(folder)
        if other.env_id != task.env_id:
            raise LiquidControlError(f"bundle {folder} was trained on {other.env_id}, not {task.env_id}; "
                                     "evaluate bundles of one task together.")
    return task


def seen_in_training(folder: str | None, task: Task) -> list[str]:
    """Perturbations an agent met in training: the task's (e.g. demonstration noise) plus,
    for a bundle, the ``train_perturbations`` of its recipe."""
    from liquidcontrol.perturb.registry import parse_item
    from liquidcontrol.runtime.card import load_card

    names = set(task.seen_in_training)
    if folder is not None:
        training = load_card(folder).training
        recipe = training.get("recipe", training) if isinstance(training, dict) else {}
        items = recipe.get("train_perturbations") or [] if isinstance(recipe, dict) else []
        names |= {parse_item(item)[0] for item in items if isinstance(item, str)}
    return sorted(names)


def run_config(cfg: EvalConfig) -> Path:
    """Evaluate everything ``cfg`` names and write the report; returns the report.html path."""
    from liquidcontrol.evaluate.report import write_report
    from liquidcontrol.evaluate.sweep import evaluate, sweep_conditions
    from liquidcontrol.evaluate.video import record_episode

    if cfg.episodes <= 0 or cfg.n_envs <= 0:
        raise LiquidControlError(f"--episodes and --n-envs must be positive, got {cfg.episodes} and {cfg.n_envs}.")
    task = resolve_task(cfg)
    factories = agent_factories(cfg, task)
    env_id = task.env_id
    names = list(task.sweep) if not cfg.perturbations else [p for p in cfg.perturbations if p != "none"]
    conditions = sweep_conditions(names, cfg.severities)
    max_steps = cfg.max_steps or None
    owners: list[str | None] = [b for b in cfg.bundle for _ in cfg.backend] + [None] * cfg.expert
    results = [
        evaluate(f, env_id, conditions, cfg.episodes, cfg.seed, n_envs=cfg.n_envs, max_steps=max_steps,
                 progress=cfg.progress, task=task, seen_in_training=seen_in_training(owner, task))
        for f, owner in zip(factories, owners)
    ]
    out = Path(cfg.out)
    video = None
    if cfg.video:
        camera = {"camera": task.render_camera} if task.render_camera else {}
        video, _ = record_episode(factories[0], env_id, out / "episode.mp4", seed=cfg.seed, max_steps=max_steps,
                                  env_kwargs={**task.env_kwargs, **camera})
    files = write_report(results, out, video=video)
    for r in results:
        clean = r.conditions[0].metrics
        print(f"{r.agent}: clean success {clean.success_rate * 100:.1f} % "
              f"[{clean.success_ci_low * 100:.1f}, {clean.success_ci_high * 100:.1f}] over {clean.n_episodes} episodes")
    return files.html


def run(args: argparse.Namespace) -> int:
    report = run_config(dataclass_from_args(EvalConfig, args))
    print(f"report: {report}")
    return 0
