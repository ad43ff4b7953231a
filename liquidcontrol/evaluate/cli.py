"""``liquidcontrol eval``: evaluate policy bundles and/or the expert, clean and perturbed.

Examples::

    liquidcontrol eval --bundle policies/pretrained/parking-cfc --backend torch onnx --expert true
    liquidcontrol eval --expert true --perturbations rain obs_delay --severities 1 3 5 --episodes 50

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

DEFAULT_ENV = "liquidcontrol/Parking-v0"
BACKENDS = {"torch": None, "onnx": "onnxruntime", "numpy": "numpy"}


@dataclass
class EvalConfig:
    bundle: list[str] = option([], "policy bundle folder(s) to evaluate")
    backend: list[str] = option(["torch"], "how to run each bundle: torch, onnx (onnxruntime) and/or numpy")
    expert: bool = option(False, "also evaluate the scripted expert (alone if no bundle is given)")
    env_id: str = option("", f"env id; default: the first bundle's card, else {DEFAULT_ENV}")
    episodes: int = option(20, "seeded episodes per condition")
    seed: int = option(1000, "first episode seed (episodes use seed, seed+1, ...)")
    perturbations: list[str] = option(
        ["obs_noise", "sensor_dropout", "obs_delay", "action_delay", "friction", "mass", "rain"],
        "perturbations to sweep (see liquidcontrol.perturb.PERTURBATIONS); none = clean only",
    )
    severities: list[int] = option([1, 3, 5], "severities 1-5 to evaluate each perturbation at")
    out: str = option("eval_report", "output folder for results, plot, video and report")
    n_envs: int = option(4, "envs stepped in lockstep per condition")
    max_steps: int = option(0, "truncate episodes after this many steps (0 = env's own limit)")
    video: bool = option(True, "record one clean episode of the first agent")
    progress: bool = option(True, "show progress bars")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_dataclass_arguments(parser, EvalConfig)


def agent_factories(cfg: EvalConfig) -> list[AgentFactory]:
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
        factories.append(expert_agent())
    if not factories:
        raise LiquidControlError("nothing to evaluate: give --bundle FOLDER and/or --expert true.")
    return factories


def resolve_env_id(cfg: EvalConfig) -> str:
    if cfg.env_id:
        return cfg.env_id
    if cfg.bundle:
        card = check_bundle(cfg.bundle[0])
        env_id = card.get("env_id")
        if isinstance(env_id, str) and env_id:
            return env_id
    return DEFAULT_ENV


def run_config(cfg: EvalConfig) -> Path:
    """Evaluate everything ``cfg`` names and write the report; returns the report.html path."""
    from liquidcontrol.evaluate.report import write_report
    from liquidcontrol.evaluate.sweep import evaluate, sweep_conditions
    from liquidcontrol.evaluate.video import record_episode

    if cfg.episodes <= 0 or cfg.n_envs <= 0:
        raise LiquidControlError(f"--episodes and --n-envs must be positive, got {cfg.episodes} and {cfg.n_envs}.")
    factories = agent_factories(cfg)
    env_id = resolve_env_id(cfg)
    conditions = sweep_conditions(cfg.perturbations, cfg.severities)
    max_steps = cfg.max_steps or None
    results = [
        evaluate(f, env_id, conditions, cfg.episodes, cfg.seed, n_envs=cfg.n_envs, max_steps=max_steps, progress=cfg.progress)
        for f in factories
    ]
    out = Path(cfg.out)
    video = None
    if cfg.video:
        video, _ = record_episode(factories[0], env_id, out / "episode.mp4", seed=cfg.seed, max_steps=max_steps)
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
