"""One row per ``train ppo`` run: when it first succeeded, its best checkpoint, the held-out check.

``python -m liquidcontrol.rl.table OUT.csv RUN [RUN ...]`` reads each run
folder's ``summary.json`` (and ``heldout_onnx_check.txt``, the JSON that
``liquidcontrol export BEST --check-episodes N`` prints, if present), writes
the rows as CSV (atomically) and prints them as a Markdown table, with one
summary line per model (runs named ``NAME_s<seed>``).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import statistics
from pathlib import Path
from typing import Any

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.rl.plot import read_run_json, run_group, run_tool

FIELDS = ["run", "model", "kind", "units", "param_budget", "seed", "first_success_steps", "steps_to_90",
          "best_validation", "best_steps", "heldout_success", "heldout_episodes", "onnx_check", "seed_agreement",
          "max_abs_action_delta", "lowest_after_90", "last_steps", "last_validation", "stopped_at_success",
          "wall_seconds"]


def _heldout(folder: Path) -> dict[str, Any] | None:
    """The ``onnx_check`` record of ``heldout_onnx_check.txt`` (its JSON, before any error line)."""
    path = folder / "heldout_onnx_check.txt"
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8")
    start = re.search(r'\{\s*"onnx_check"', text)  # stderr lines may come before or after it
    try:
        if start is None:
            raise KeyError("onnx_check")
        record, _ = json.JSONDecoder().raw_decode(text[start.start():])
        check = record["onnx_check"]
        row = {k: check[k] for k in ("torch_success", "episodes", "passed", "seed_agreement")}
        delta = check.get("max_abs_action_delta", "absent")  # absent in records from before it was kept
        # the check stores a non-finite difference as null
        row["max_abs_action_delta"] = None if delta == "absent" else math.inf if delta is None else delta
        return row
    except (json.JSONDecodeError, KeyError, TypeError):
        first = text.strip().splitlines()[-1] if text.strip() else "empty"
        raise LiquidControlError(f"{path} holds no ONNX check record ({first}).") from None


def run_row(folder: str | Path) -> dict[str, Any]:
    """The row of one run folder."""
    folder = Path(folder)
    summary = read_run_json(folder, "summary.json")
    try:
        history = [h for h in summary["history"] if h.get("validation_success") is not None]
        config = summary["config"]
    except (KeyError, TypeError, AttributeError):
        raise LiquidControlError(f"{folder / 'summary.json'} is not a train ppo summary.") from None
    if not history:
        raise LiquidControlError(f"{folder / 'summary.json'} has no evaluation.")

    def first(at_least: float) -> int | None:
        return next((int(h["steps"]) for h in history if h["validation_success"] >= at_least), None)

    # the latest of equal bests, as training keeps it in best/ (success >= best so far)
    best = max(history, key=lambda h: (h["validation_success"], h["steps"]))
    check = _heldout(folder)
    reached = first(0.9)
    after = [h["validation_success"] for h in history if reached is not None and h["steps"] > reached]
    return {"run": folder.name, "model": run_group(folder), "kind": config.get("kind"), "units": config.get("units"),
            "param_budget": config.get("param_budget"), "seed": config.get("seed"),
            "first_success_steps": next((int(h["steps"]) for h in history if h["validation_success"] > 0), None),
            "steps_to_90": reached, "best_validation": best["validation_success"], "best_steps": int(best["steps"]),
            "heldout_success": None if check is None else check["torch_success"],
            "heldout_episodes": None if check is None else check["episodes"],
            "onnx_check": None if check is None else ("passed" if check["passed"] else "failed"),
            "seed_agreement": None if check is None else check["seed_agreement"],
            "max_abs_action_delta": None if check is None else check["max_abs_action_delta"],
            "lowest_after_90": min(after) if after else None,  # how far success fell once it was there
            "last_steps": int(history[-1]["steps"]), "last_validation": history[-1]["validation_success"],
            "stopped_at_success": bool(summary.get("stopped_at_success", False)),
            "wall_seconds": round(float(history[-1]["wall_seconds"]), 1)}


def _pct(value: Any) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def _mega(value: Any) -> str:
    return "never" if value is None else f"{value / 1e6:.2f} M"


def _check_cell(r: dict[str, Any]) -> str:
    """"passed (99.0 % agreement, max |Δa| 7e-07)": a large difference means a wrong file, a tiny one
    with a failure means flipped outcomes only."""
    if r["onnx_check"] is None:
        return "–"
    delta = r["max_abs_action_delta"]
    shown = "" if delta is None else f", max \\|Δa\\| {f'{delta:.0e}' if math.isfinite(delta) else 'non-finite'}"
    return f"{r['onnx_check']} ({_pct(r['seed_agreement'])} agreement{shown})"


def markdown(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table, then one line per model (how many seeds reached 90 %, the median steps)."""
    lines = ["| run | first success | ≥ 90 % validation at | best validation | held-out (best) | ONNX check | "
             "lowest after ≥ 90 % | last evaluation | wall time |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        check = _check_cell(r)
        lines.append(f"| {r['run']} | {_mega(r['first_success_steps'])} | {_mega(r['steps_to_90'])} | "
                     f"{_pct(r['best_validation'])} | {_pct(r['heldout_success'])} | {check} | "
                     f"{_pct(r['lowest_after_90'])} | {_mega(r['last_steps'])}{'*' if r['stopped_at_success'] else ''}"
                     f": {_pct(r['last_validation'])} | "
                     f"{r['wall_seconds'] / 60:.0f} min |")
    models: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        models.setdefault(r["model"], []).append(r)
    lines.append("")
    lines.append("(* = the run stopped there on reaching --stop-success.)")
    for model, group in models.items():
        reached = sorted(r["steps_to_90"] for r in group if r["steps_to_90"] is not None)
        held = [r for r in group if r["heldout_success"] is not None and r["heldout_success"] >= 0.9
                and r["onnx_check"] == "passed"]
        median = f", median {_mega(statistics.median(reached))}" if reached else ""
        lines.append(f"- {model}: {len(reached)}/{len(group)} seeds reach ≥ 90 % validation{median}; "
                     f"{len(held)}/{len(group)} have a best checkpoint ≥ 90 % held out that passes the ONNX check.")
    return "\n".join(lines)


def write_table(out: str | Path, runs: list[str]) -> list[dict[str, Any]]:
    from liquidcontrol.fileio import atomic_write_text

    if not runs:
        raise LiquidControlError("name at least one run folder.")
    rows = [run_row(r) for r in runs]
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(out, text.getvalue())
    return rows


def main(argv: list[str] | None = None) -> int:
    return run_tool(argv, "python -m liquidcontrol.rl.table OUT.csv RUN [RUN ...]",
                    lambda out, runs: markdown(write_table(out, runs)))


if __name__ == "__main__":
    raise SystemExit(main())
