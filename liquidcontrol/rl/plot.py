"""Learning curves of ``train ppo`` runs: validation success against env steps and against wall time.

``python -m liquidcontrol.rl.plot OUT.png RUN [RUN ...]`` reads each run's
``history.json`` (a run folder or the folder it was copied to) and draws
both panels, one line per run. Runs named ``NAME_s<seed>`` share a colour
and one legend entry ``NAME`` (the seeds of one model); others are labelled
by folder name.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from liquidcontrol.errors import LiquidControlError


def read_run_json(folder: str | Path, name: str) -> Any:
    """A JSON file of a run folder, with one-sentence errors for a missing or corrupt file."""
    path = Path(folder) / name
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LiquidControlError(f"{folder} holds no {name}; is it a finished train ppo run?") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise LiquidControlError(f"{path} is corrupt ({exc}).") from None


def read_history(folder: str | Path) -> list[dict[str, Any]]:
    path = Path(folder) / "history.json"
    history = read_run_json(folder, "history.json")
    if not isinstance(history, list) or not all(isinstance(h, dict) and "steps" in h for h in history):
        raise LiquidControlError(f"{path} is not a PPO history (a list of records with steps).")
    return history


def run_group(run: str | Path) -> str:
    """The model a run folder belongs to: its name without a trailing ``_s<seed>``."""
    return re.sub(r"_s\d+$", "", Path(run).name)


def plot_curves(out: str | Path, runs: list[str]) -> Path:
    """Write the two-panel figure to ``out`` (atomically) and return its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from liquidcontrol.fileio import atomic_write_bytes

    if not runs:
        raise LiquidControlError("name at least one run folder to plot.")
    fig, (by_steps, by_time) = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    colours: dict[str, str] = {}
    for run in runs:
        history = [h for h in read_history(run) if h.get("validation_success") is not None]
        steps = [h["steps"] / 1e6 for h in history]
        wall = [h["wall_seconds"] / 60 for h in history]
        success = [100 * h["validation_success"] for h in history]
        group = run_group(run)
        label = None if group in colours else group
        colour = colours.setdefault(group, f"C{len(colours) % 10}")
        by_steps.plot(steps, success, marker="o", ms=3, color=colour, alpha=0.8, label=label)
        by_time.plot(wall, success, marker="o", ms=3, color=colour, alpha=0.8, label=label)
    by_steps.set_xlabel("env steps (millions)")
    by_time.set_xlabel("wall time (min, 1 torch thread)")
    by_steps.set_ylabel("validation success (%)")
    for ax in (by_steps, by_time):
        ax.grid(alpha=0.3)
        ax.set_ylim(-2, 102)
    by_steps.legend(fontsize=8)
    fig.tight_layout()
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return atomic_write_bytes(out, buf.getvalue())


def run_tool(argv: list[str] | None, usage: str, action: Callable[[str, list[str]], object]) -> int:
    """``python -m`` entry of the tools that read run folders: ``OUT RUN [RUN ...]``, one-sentence errors."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 2:
        print(f"usage: {usage}", file=sys.stderr)
        return 2
    try:
        print(action(args[0], args[1:]))
    except LiquidControlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_tool(argv, "python -m liquidcontrol.rl.plot OUT.png RUN [RUN ...]", plot_curves)


if __name__ == "__main__":
    raise SystemExit(main())
