"""``liquidcontrol compare``: model kinds side by side, several training seeds each.

For every kind and training seed it runs the main job (train, export,
evaluate, sweep; the expert only once), then aggregates mean ± std over the
seeds: clean success on the held-out seeds and, per perturbation, the
success at each severity and the normalised AUC. Baselines are sized to the
task's liquid model's *trainable* parameter count (``--param-budget``), so
models compare at equal size. Results go to ``--results`` as JSON, CSV and a
Markdown table, so anyone can regenerate and diff them::

    liquidcontrol compare --task parking --kinds cfc-ncp lstm gru --seeds 0 1 2 --results results/parking
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from liquidcontrol.config import add_dataclass_arguments, dataclass_from_args, option
from liquidcontrol.errors import LiquidControlError
from liquidcontrol.fileio import atomic_write_json, atomic_write_text
from liquidcontrol.tasks import DEFAULT_TASK


@dataclass
class CompareConfig:
    """Compare model kinds on one task, several training seeds each."""

    task: str = option(DEFAULT_TASK, "task name (see liquidcontrol.tasks)")
    kinds: list[str] = option(["cfc-ncp", "lstm", "gru"], "model kinds; the first is the reference whose size baselines match")
    seeds: list[int] = option([0, 1, 2], "training seeds per kind")
    out: str = option("runs/compare", "folder for the runs (one main-job folder per kind and seed)")
    results: str = option("", "folder for the aggregated JSON/CSV/Markdown (default: OUT/results)")
    budget: str = option("full", "training budget preset of the main job")
    eval_episodes: int = option(500, "held-out episodes for each clean evaluation")
    sweep_episodes: int = option(50, "episodes per perturbed condition")
    severities: list[int] = option([1, 3, 5], "severities of the sweep")
    perturbations: list[str] = option([], "perturbations of the sweep; empty = the task's sweep")
    train_perturbations: list[str] = option([], "perturbations every run trains with ('name:severity')")
    resume: bool = option(True, "reuse finished runs in OUT (a run with report/summary.json is not repeated)")
    progress: bool = option(True, "show progress")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_dataclass_arguments(parser, CompareConfig)


def run(args: argparse.Namespace) -> int:
    cfg = dataclass_from_args(CompareConfig, args)
    table = compare(cfg)
    print(table["markdown"])
    return 0


def _reference_budget(task: Any, kind: str) -> int:
    """Trainable parameters of ``kind`` at the task's default size on the task's env."""
    from liquidcontrol.policies.registry import is_liquid
    from liquidcontrol.train.model import build_policy, probe_env

    if not is_liquid(kind):
        raise LiquidControlError(f"the first kind is the size reference and must be a liquid kind, got {kind!r}.")
    policy = build_policy(kind, probe_env(task.env_id, task.env_kwargs), task.units, 0)
    return policy.num_parameters(effective=True)


def compare(cfg: CompareConfig) -> dict[str, Any]:
    """Run (or reuse) every kind x seed main job and write the aggregate; returns it."""
    from liquidcontrol.main_job import check_config, main_job
    from liquidcontrol.tasks import get_task

    task = get_task(cfg.task)
    if not cfg.kinds or not cfg.seeds:
        raise LiquidControlError("compare needs at least one kind and one seed.")
    budget = _reference_budget(task, cfg.kinds[0])
    out = Path(cfg.out)
    dest = Path(cfg.results) if cfg.results else out / "results"
    runs: dict[str, list[dict[str, Any]]] = {}
    table: dict[str, Any] = {}
    # Seed-major order: after each round of seeds every kind has the same number of runs,
    # and the aggregate written after each run is a fair (if smaller) comparison.
    plans = [(seed, kind, _main_config(cfg, task, out, kind, seed, budget, first=(k == 0 and j == 0)))
             for j, seed in enumerate(cfg.seeds) for k, kind in enumerate(cfg.kinds)]
    for _, _, main_cfg in plans:  # every setting is checked before the first run trains
        check_config(main_cfg, task)
    for seed, kind, main_cfg in plans:
        folder = Path(main_cfg.out)
        done = folder / "report" / "summary.json"
        if cfg.resume and done.is_file():
            summary = _read_summary(done)
            _check_reuse(summary, main_cfg, done)
        else:
            print(f"== {kind}, training seed {seed} -> {folder}", flush=True)
            main_job(main_cfg)
            summary = _read_summary(done)
        summary["sweep"] = _read_sweep(folder)
        runs.setdefault(kind, []).append(summary)
        table = aggregate(task.name, runs, budget)
        _write(dest, table)
    return table


def _main_config(cfg: CompareConfig, task: Any, out: Path, kind: str, seed: int, budget: int, first: bool) -> Any:
    from liquidcontrol.main_job import MainConfig
    from liquidcontrol.policies.registry import is_liquid

    return MainConfig(
        task=task.name, out=str(out / f"{kind}-seed{seed}"), kind=kind, param_budget=0 if is_liquid(kind) else budget,
        seed=seed, budget=cfg.budget, eval_episodes=cfg.eval_episodes, sweep_episodes=cfg.sweep_episodes,
        severities=list(cfg.severities), perturbations=list(cfg.perturbations),
        train_perturbations=list(cfg.train_perturbations), expert=first,
        progress=cfg.progress)


def _read_summary(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LiquidControlError(f"{path} is corrupt ({exc}); delete that run folder to re-run it.") from None
    if not isinstance(data, dict) or "clean" not in data or "training" not in data:
        raise LiquidControlError(f"{path} is not a main-job summary; delete that run folder to re-run it.")
    return data


def _episodes(summary: dict[str, Any]) -> Any:
    first: dict[str, Any] = next(iter(summary["clean"].values()), {})
    return first.get("episodes")


def _check_reuse(summary: dict[str, Any], main_cfg: Any, path: Path) -> None:
    """A finished run is reused only if it was run with the settings compare would use now."""
    from dataclasses import asdict

    want = asdict(main_cfg)
    have = dict(summary.get("config") or {})
    if not have:  # summaries written before the config was recorded: what they do record
        have = {"task": summary.get("task"), "kind": summary.get("kind"), "seed": summary.get("seed"),
                "budget": summary.get("budget"),
                "eval_episodes": _episodes(summary)}
        have = {k: v for k, v in have.items() if v is not None}
    if not have.get("kind") and summary.get("kind"):  # a main job left the kind to the task: the kind it ran
        have["kind"] = summary["kind"]
    keys = ("task", "kind", "seed", "budget", "eval_episodes", "sweep_episodes", "severities",
            "perturbations", "train_perturbations", "param_budget")
    diff = {k: (have[k], want[k]) for k in keys if k in have and have[k] != want[k]}
    if diff:
        raise LiquidControlError(f"{path} was run with different settings {diff} (saved, now); "
                                 "delete it, pass --resume false, or use another --out.")


def _write(dest: Path, table: dict[str, Any]) -> None:
    atomic_write_json(dest / "comparison.json", {k: v for k, v in table.items() if k not in ("markdown", "csv")})
    atomic_write_text(dest / "comparison.csv", table["csv"])
    atomic_write_text(dest / "comparison.md", table["markdown"])


def _read_sweep(folder: Path) -> dict[str, Any]:
    """Per agent: the robustness curves of the run's sweep (empty without a sweep)."""
    path = folder / "report" / "robustness" / "results.json"
    if not path.is_file():
        return {}
    data = json.loads(path.read_text())
    return {r["agent"]: r["curves"] for r in data["results"]}


def _stats(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values, dtype=np.float64)
    return {"mean": float(arr.mean()), "std": float(arr.std(ddof=1)) if arr.size > 1 else 0.0, "n": int(arr.size)}


def aggregate(task: str, runs: dict[str, list[dict[str, Any]]], budget: int) -> dict[str, Any]:
    """Mean ± std over seeds per kind: clean success, per-severity success and AUC per perturbation."""
    kinds: dict[str, Any] = {}
    expert: dict[str, Any] | None = None
    seen: set[str] = set()
    for kind, summaries in runs.items():
        clean = [next(v["success"] for n, v in s["clean"].items() if n.endswith("(torch)")) for s in summaries]
        curves: dict[str, dict[str, list[float]]] = {}
        for s in summaries:
            for agent, agent_curves in s["sweep"].items():
                if agent == "expert":
                    expert = expert or agent_curves
                    continue
                for name, c in agent_curves.items():
                    if c.get("seen_in_training"):
                        seen.add(name)
                    slot = curves.setdefault(name, {"auc": [], **{f"s{sev}": [] for sev in c["severity"]}})
                    slot["auc"].append(c["auc"])
                    for sev, val in zip(c["severity"], c["success"]):
                        slot.setdefault(f"s{sev}", []).append(val)
        kinds[kind] = {
            "parameters": summaries[0].get("parameters"),
            "seeds": [s["seed"] for s in summaries],
            "clean_success": _stats(clean),
            "train_seconds": _stats([s["training"]["train_seconds"] for s in summaries]),
            "onnx_check_passed": all(s["onnx_check"]["passed"] for s in summaries),
            "perturbations": {name: {k: _stats(v) for k, v in c.items()} for name, c in curves.items()},
        }
    table = {"task": task, "reference_trainable_parameters": budget, "kinds": kinds, "expert": expert,
             "seen_in_training": sorted(seen)}
    table["csv"] = _csv(kinds)
    table["markdown"] = _markdown(table)
    return table


def _csv(kinds: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["kind", "perturbation", "metric", "mean", "std", "n"])
    for kind, k in kinds.items():
        c = k["clean_success"]
        w.writerow([kind, "clean", "success", c["mean"], c["std"], c["n"]])
        for name, metrics in k["perturbations"].items():
            for metric, st in metrics.items():
                w.writerow([kind, name, metric, st["mean"], st["std"], st["n"]])
    return buf.getvalue()


def _pm(st: dict[str, float] | None, pct: bool = True, digits: int | None = None) -> str:
    if st is None:
        return "–"
    if pct:
        d = 0 if digits is None else digits
        return f"{st['mean'] * 100:.{d}f} ± {st['std'] * 100:.{d}f} %"
    d = 2 if digits is None else digits
    return f"{st['mean']:.{d}f} ± {st['std']:.{d}f}"


def _markdown(table: dict[str, Any]) -> str:
    kinds = table["kinds"]
    names = list(kinds)
    expert = table.get("expert") or {}
    lines = [f"# {table['task']}: {', '.join(names)} (mean ± std over training seeds)", "",
             "| | " + " | ".join(f"{k} ({_params(kinds[k])}, {kinds[k]['clean_success']['n']} seeds)" for k in names)
             + " |", "|" + "---|" * (len(names) + 1)]
    lines.append("| clean success, held-out seeds | " + " | ".join(_pm(kinds[k]["clean_success"], digits=1) for k in names) + " |")
    lines.append("| training time (s, own timer) | " + " | ".join(_pm(kinds[k]["train_seconds"], pct=False, digits=0)
                                                              for k in names) + " |")
    perts = list(dict.fromkeys(p for k in names for p in kinds[k]["perturbations"]))
    seen = set(table.get("seen_in_training") or [])
    head = ["perturbation", "expert (privileged)", *names]
    lines += ["", "Normalised area under success vs severity (1.0 = no loss), then mean success at each severity:", "",
              "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for p in perts:
        label = f"{p} ({'seen in training' if p in seen else 'held out'})"
        e = expert.get(p)
        cells = [f"{e['auc']:.2f}" if e else "–"]
        for k in names:
            c = kinds[k]["perturbations"].get(p, {})
            sevs = sorted((m for m in c if m.startswith("s") and m != "s0"), key=lambda m: int(m[1:]))
            per = " / ".join(f"{c[m]['mean'] * 100:.0f}" for m in sevs)
            cells.append(f"{_pm(c.get('auc'), pct=False)} ({per} %)" if c else "–")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _params(k: dict[str, Any]) -> str:
    p = k.get("parameters") or {}
    return f"{p.get('trainable')} trainable / {p.get('nominal')} nominal params"
