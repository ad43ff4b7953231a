"""``liquidcontrol main``: the whole path on the default task, parking.

demonstrations -> behaviour cloning -> DAgger -> ONNX bundle -> evaluation
(expert, torch policy, ONNX policy through ``liquidcontrol.runtime``; clean
on held-out seeds and under each perturbation at a few severities) ->
closed-loop check that the ONNX policy's success is within 2 points of
torch -> report folder. Every stage prints its wall-clock time.

Evaluation seeds start at 0; training seeds at 1,000,000, so they never meet.
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
from liquidcontrol.fileio import atomic_write_text

ENV_ID = "liquidcontrol/Parking-v0"
EVAL_SEED = 0
ONNX_TOLERANCE = 0.02  # success-rate points between torch and ONNX
DEFAULT_PERTURBATIONS = ["obs_noise", "sensor_dropout", "obs_delay", "action_delay", "friction", "mass", "rain"]

# Training budgets: "full" is the recipe behind the README's figures.
BUDGETS: dict[str, dict[str, Any]] = {
    "full": dict(max_minutes=9.0),  # DaggerConfig's defaults
    "tiny": dict(demo_episodes=4, bc_epochs=2, iterations=1, episodes_per_iteration=4,
                 epochs_per_iteration=1, validation_episodes=4, n_envs=4),
}


@dataclass
class MainConfig:
    """Train, evaluate, export and report a parking policy."""

    out: str = option("runs/main", "output folder (train/, bundle/, report/)")
    kind: str = option("cfc-ncp", "model kind (see liquidcontrol.policies.MODEL_KINDS)")
    units: int = option(12, "neurons (liquid kinds) or hidden units (baselines)")
    seed: int = option(0, "training seed")
    budget: str = option("full", "training budget preset", choices=list(BUDGETS))
    eval_episodes: int = option(500, "held-out episodes for the clean evaluation of each agent")
    sweep_episodes: int = option(50, "episodes per perturbed condition")
    severities: list[int] = option([1, 3, 5], "severities of the perturbation sweep")
    perturbations: list[str] = option(list(DEFAULT_PERTURBATIONS), "perturbations of the sweep")
    train_perturbations: list[str] = option([], "perturbations ('name:severity') the learner meets in half of its DAgger rollouts; reported as seen in training")
    n_envs: int = option(16, "envs stepped in lockstep during evaluation")
    resume: bool = option(False, "continue an interrupted training run in --out")
    progress: bool = option(True, "show progress bars")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_dataclass_arguments(parser, MainConfig)


def run(args: argparse.Namespace) -> int:
    return main_job(dataclass_from_args(MainConfig, args))["exit_code"]


class _Clock:
    """Prints and records the wall-clock time of each stage."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.stages: dict[str, float] = {}

    def stage(self, name: str, since: float) -> None:
        self.stages[name] = round(time.perf_counter() - since, 1)
        print(f"[{name}] {self.stages[name]:.1f} s (total {time.perf_counter() - self.start:.1f} s)", flush=True)


def main_job(cfg: MainConfig) -> dict[str, Any]:
    """Run every stage; returns the summary written to ``report/summary.json``."""
    import liquidcontrol.envs  # noqa: F401 - registers the env ids
    from liquidcontrol.perturb import PERTURBATIONS
    from liquidcontrol.perturb.registry import parse_item

    names = list(cfg.perturbations) + [parse_item(p)[0] for p in cfg.train_perturbations]
    unknown = [p for p in names if p not in PERTURBATIONS]
    if unknown:
        raise LiquidControlError(f"unknown perturbation(s) {unknown}; choose from {sorted(PERTURBATIONS)}.")
    out, clock = Path(cfg.out), _Clock()
    t = time.perf_counter()
    training = _train(cfg, out / "train")
    clock.stage("train", t)
    t = time.perf_counter()
    policy, record = _load_best(training)
    bundle = _export(out, policy, record, training)
    clock.stage("export", t)
    t = time.perf_counter()
    clean, sweep = _evaluate(cfg, policy, bundle)
    clock.stage("evaluate", t)
    t = time.perf_counter()
    summary = _summarise(cfg, training, clean, bundle)
    _write_reports(cfg, out / "report", policy, clean, sweep, summary)
    _export(out, policy, record, training, evaluation=summary["clean"])
    clock.stage("report", t)
    summary["seconds"] = clock.stages
    from liquidcontrol.fileio import atomic_write_json

    atomic_write_json(out / "report" / "summary.json", summary)
    _print_summary(summary, out)
    return summary


def _train(cfg: MainConfig, folder: Path) -> dict[str, Any]:
    from liquidcontrol.train.dagger import DaggerConfig, train

    if cfg.budget not in BUDGETS:
        raise LiquidControlError(f"unknown budget {cfg.budget!r}; choose from {sorted(BUDGETS)}.")
    dagger = DaggerConfig(env_id=ENV_ID, kind=cfg.kind, units=cfg.units, seed=cfg.seed, out=str(folder),
                          resume=cfg.resume, progress=cfg.progress, train_perturbations=cfg.train_perturbations,
                          **BUDGETS[cfg.budget])
    summary = train(dagger)
    summary["recipe"] = {"algo": "bc+dagger", **asdict(dagger)}
    return summary


def _load_best(training: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    from liquidcontrol.train.checkpoint import load_checkpoint

    policy, record, _ = load_checkpoint(training["best"])
    return policy.eval(), record


def _export(out: Path, policy: Any, record: dict[str, Any], training: dict[str, Any],
            evaluation: dict | None = None) -> Path:
    """Write the bundle; called again after evaluation so the card (in card.json
    and in the ONNX metadata) carries the results."""
    from liquidcontrol.envs import ParkingEnv
    from liquidcontrol.export import save_bundle

    fields = {
        "env_id": ENV_ID,
        "observation": ParkingEnv.observation_layout,
        "action": ParkingEnv.action_layout,
        "training": {"recipe": training["recipe"], "best_iteration": record.get("iteration"),
                     "best_validation_success": training["best_success"],
                     "train_seconds": round(training["train_seconds"], 1)},
        "evaluation": evaluation or {},
    }
    bundle = out / "bundle"
    save_bundle(bundle, policy, fields)
    return bundle


def _evaluate(cfg: MainConfig, policy: Any, bundle: Path) -> tuple[list[Any], list[Any]]:
    """Clean: expert, torch and ONNX on ``eval_episodes`` held-out seeds.
    Sweep: expert and torch policy under every perturbation and severity."""
    from liquidcontrol.evaluate import (
        evaluate,
        expert_agent,
        runtime_agent,
        sweep_conditions,
        torch_agent,
    )
    from liquidcontrol.perturb.registry import parse_item

    clean_only = sweep_conditions([], severities=[])
    common = dict(n_envs=cfg.n_envs, progress=cfg.progress)
    agents = [expert_agent(name="expert"), torch_agent(policy, name=f"{cfg.kind} (torch)"),
              runtime_agent(bundle, "onnxruntime", name=f"{cfg.kind} (ONNX)")]
    clean = [evaluate(a, ENV_ID, clean_only, cfg.eval_episodes, EVAL_SEED, **common) for a in agents]  # type: ignore[arg-type]
    sweep = []
    if cfg.perturbations and cfg.severities:
        conds = sweep_conditions(cfg.perturbations, severities=cfg.severities)
        # Demonstrations are driven with OU noise on the steering: action noise counts as seen.
        seen = sorted({"action_noise"} | {parse_item(p)[0] for p in cfg.train_perturbations})
        sweep = [evaluate(a, ENV_ID, conds, cfg.sweep_episodes, EVAL_SEED, seen_in_training=seen, **common)  # type: ignore[arg-type]
                 for a in agents[:2]]
    return clean, sweep


def _summarise(cfg: MainConfig, training: dict[str, Any], clean: list[Any], bundle: Path) -> dict[str, Any]:
    rates = {r.agent: r.metrics("clean") for r in clean}
    expert, torch_m, onnx_m = (clean[i].metrics("clean") for i in range(3))
    gap = abs(onnx_m.success_rate - torch_m.success_rate)
    return {
        "env_id": ENV_ID, "kind": cfg.kind, "units": cfg.units, "budget": cfg.budget,
        "bundle": str(bundle),
        "clean": {name: {"success": m.success_rate, "ci95": [m.success_ci_low, m.success_ci_high],
                         "episodes": cfg.eval_episodes} for name, m in rates.items()},
        "onnx_check": {"torch_success": torch_m.success_rate, "onnx_success": onnx_m.success_rate,
                       "gap": gap, "tolerance": ONNX_TOLERANCE, "passed": gap <= ONNX_TOLERANCE},
        "expert_success": expert.success_rate,
        "training": {"history": training["history"], "best_validation_success": training["best_success"],
                     "train_seconds": round(training["train_seconds"], 1), "steps": training["steps"]},
        "exit_code": 0 if gap <= ONNX_TOLERANCE else 3,
    }


def _write_reports(cfg: MainConfig, folder: Path, policy: Any, clean: list[Any], sweep: list[Any],
                   summary: dict[str, Any]) -> None:
    from liquidcontrol.evaluate import record_episode, torch_agent, write_report

    folder.mkdir(parents=True, exist_ok=True)
    video, _ = record_episode(torch_agent(policy, name=cfg.kind), ENV_ID, folder / "episode.mp4", seed=EVAL_SEED)
    write_report(clean, folder / "clean", title=f"Parking, clean, {cfg.eval_episodes} held-out episodes")
    if sweep:
        write_report(sweep, folder / "robustness", title="Parking under perturbations")
    summary["report_files"] = {"video": video.name, "clean": "clean/report.html",
                               "robustness": "robustness/report.html" if sweep else None}
    atomic_write_text(folder / "index.md", _index_markdown(summary))
    atomic_write_text(folder / "index.html", _index_html(summary))


def _index_markdown(s: dict[str, Any]) -> str:
    files = s["report_files"]
    lines = [f"# liquidcontrol main job: {s['kind']} on {s['env_id']}", "",
             f"Policy bundle: `{s['bundle']}`", "", "## Clean success (held-out seeds, 95% CI)", "",
             "| agent | success | 95% CI |", "|---|---|---|"]
    for name, m in s["clean"].items():
        lines.append(f"| {name} | {m['success']:.1%} | {m['ci95'][0]:.1%} – {m['ci95'][1]:.1%} |")
    chk = s["onnx_check"]
    lines += ["", f"ONNX closed-loop check: torch {chk['torch_success']:.1%} vs ONNX {chk['onnx_success']:.1%} "
              f"(gap {chk['gap']:.1%}, tolerance {chk['tolerance']:.0%}): {'passed' if chk['passed'] else 'FAILED'}.",
              "", "## Training (success on 200 fixed validation seeds; on its own DAgger rollouts)", "",
              "| iteration | validation success | rollout success | data steps |", "|---|---|---|---|"]
    lines += [f"| {h['iteration']} | {_pct(h['validation_success'])} | {_pct(h['learner_success'])} | {h['steps']} |"
              for h in s["training"]["history"]]
    lines += ["", "## Reports", "", f"- [clean evaluation]({files['clean']})"]
    if files["robustness"]:
        lines.append(f"- [robustness sweep]({files['robustness']})")
    lines += [f"- [episode video]({files['video']})", ""]
    return "\n".join(lines)


def _pct(value: float) -> str:
    """A rate as a percentage; NaN (not measured in that round) as a dash."""
    return "–" if value != value else f"{value:.1%}"


def _index_html(s: dict[str, Any]) -> str:
    import html

    body = html.escape(_index_markdown(s))
    files = s["report_files"]
    links = [f'<li><a href="{files["clean"]}">clean evaluation</a></li>']
    if files["robustness"]:
        links.append(f'<li><a href="{files["robustness"]}">robustness sweep</a></li>')
    video = f'<video src="{files["video"]}" controls width="480"></video>' if files["video"].endswith(".mp4") \
        else f'<img src="{files["video"]}" width="480">'
    return ("<!doctype html><html><head><meta charset='utf-8'><title>liquidcontrol main job</title></head><body>"
            f"<h1>liquidcontrol main job</h1><ul>{''.join(links)}</ul>{video}<pre>{body}</pre></body></html>")


def _print_summary(s: dict[str, Any], out: Path) -> None:
    print(json.dumps({k: s[k] for k in ("clean", "onnx_check", "seconds")}, indent=2))
    print(f"report: {out / 'report' / 'index.html'}")
