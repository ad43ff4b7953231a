"""Reports: results.json / results.csv, a success-vs-severity plot, Markdown and HTML.

Several agents (expert, torch policy, ONNX policy …) evaluated on the same
conditions appear side by side in every table and on every plot panel.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.evaluate.metrics import ConditionMetrics
from liquidcontrol.evaluate.sweep import EvaluationResult, save_results
from liquidcontrol.fileio import atomic_path, atomic_write_text
from liquidcontrol.perturb import PERTURBATIONS
from liquidcontrol.tasks import task_for_env


@dataclass
class ReportFiles:
    """Paths of everything :func:`write_report` wrote (``video`` None if none was given)."""

    markdown: Path
    html: Path
    plot: Path | None
    json: Path
    csv: Path
    video: Path | None


def plot_success_vs_severity(results: Sequence[EvaluationResult], path: str | Path) -> Path | None:
    """One panel per perturbation: success rate vs severity per agent, 95 % Wilson error bars.

    Returns None (no file) when no condition is a single perturbation.
    """
    import matplotlib

    matplotlib.use("Agg")  # headless: no display on robots, CI or here
    import matplotlib.pyplot as plt

    families = list(dict.fromkeys(f for r in results for f in r.curves()))
    if not families:
        return None
    cols = min(3, len(families))
    rows = -(-len(families) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    for ax, family in zip(axes.flat, families):
        for r in results:
            curve = r.curves().get(family)
            if curve is None:
                continue
            s = curve["success"]
            # max(0, ·): rounding can put a Wilson bound a hair past the rate at 0 or n successes.
            err = [[max(0.0, v - lo) for v, lo in zip(s, curve["ci_low"])],
                   [max(0.0, hi - v) for v, hi in zip(s, curve["ci_high"])]]
            ax.errorbar(curve["severity"], s, yerr=err, marker="o", capsize=3, label=f"{r.agent} (AUC {curve['auc']:.2f})")
        seen = " (seen in training)" if any(family in r.seen_in_training for r in results) else ""
        ax.set_title(family + seen, fontsize=10)
        ax.set_xlabel("severity")
        ax.set_ylabel("success rate")
        ax.set_xlim(-0.3, 5.3)
        ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower left")
    for ax in list(axes.flat)[len(families):]:
        ax.axis("off")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return Path(path)


def _pct(m: ConditionMetrics) -> str:
    return f"{m.success_rate * 100:.1f} % [{m.success_ci_low * 100:.1f}, {m.success_ci_high * 100:.1f}]"


def _fmt(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _tables(results: Sequence[EvaluationResult]) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) of every table in the report."""
    names = [c.condition.name for c in results[0].conditions]
    success = [[n, *(_pct(r.metrics(n)) for r in results)] for n in names]
    tables = [("Success rate (95 % Wilson interval)", ["condition", *(r.agent for r in results)], success)]
    robust_rows = []
    for family in dict.fromkeys(f for r in results for f in r.curves()):
        cells = [family, "yes" if any(family in r.seen_in_training for r in results) else "held out"]
        for r in results:
            c = r.curves().get(family)
            cells.append("–" if c is None else f"AUC {c['auc']:.2f}, worst {c['worst'] * 100:.0f} % @ {c['worst_severity']}")
        robust_rows.append(cells)
    if robust_rows:
        tables.append(("Robustness: normalised area under success-vs-severity, worst severity",
                       ["perturbation", "seen in training", *(r.agent for r in results)], robust_rows))
    task = task_for_env(results[0].env_id)
    time_label = task.time_label if task is not None else "time to success"
    extra = sorted({k for r in results for c in r.conditions for k in c.metrics.extra})
    header = ["condition", "success", f"{time_label} (s)", "collisions", "path (m)", "smoothness |Δa|", "unstable",
              *extra]
    for r in results:
        rows = [[c.condition.name, _pct(c.metrics), _fmt(c.metrics.time_to_success_s), f"{c.metrics.collision_rate * 100:.1f} %",
                 _fmt(c.metrics.path_length_m), _fmt(c.metrics.smoothness, 3), str(c.metrics.unstable_count),
                 *(_fmt(c.metrics.extra.get(k), 3) for k in extra)]
                for c in r.conditions]
        tables.append((f"Details: {r.agent}", header, rows))
    return tables


def _severity_notes(results: Sequence[EvaluationResult]) -> list[str]:
    used = dict.fromkeys(n for r in results for c in r.conditions for n, _ in c.condition.perturbations)
    notes = []
    for name in used:
        spec = PERTURBATIONS.get(name)
        if spec is not None:
            levels = "; ".join(f"{s}: {spec.describe(s)}" for s in range(1, 6))
            notes.append(f"{name} — {spec.summary}. {levels}")
    return notes


def _markdown(title: str, results: Sequence[EvaluationResult], plot: str | None, video: str | None) -> str:
    r0 = results[0]
    lines = [f"# {title}", "", f"Env `{r0.env_id}`, {r0.n_episodes} episodes per condition, seeds {r0.seed}–{r0.seed + r0.n_episodes - 1}.", ""]
    for name, header, rows in _tables(results):
        lines += [f"## {name}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        lines.append("")
    if plot:
        lines += ["## Success vs severity", "", f"![success vs severity]({plot})", ""]
    if video:
        lines += ["## Episode video", "", f"[{video}]({video})", ""]
    notes = _severity_notes(results)
    if notes:
        lines += ["## Perturbation severities", ""] + [f"- {n}" for n in notes] + [""]
    return "\n".join(lines)


def _html(title: str, results: Sequence[EvaluationResult], plot: str | None, video: str | None) -> str:
    e = html.escape
    r0 = results[0]
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{e(title)}</title>",
             "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:1.5em}"
             "td,th{border:1px solid #bbb;padding:3px 8px;text-align:right}td:first-child{text-align:left}</style>",
             f"</head><body><h1>{e(title)}</h1>",
             f"<p>Env <code>{e(r0.env_id)}</code>, {r0.n_episodes} episodes per condition.</p>"]
    for name, header, rows in _tables(results):
        parts.append(f"<h2>{e(name)}</h2><table><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>")
        parts += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in rows]
        parts.append("</table>")
    if plot:
        parts.append(f"<h2>Success vs severity</h2><img src='{e(plot)}' alt='success vs severity'>")
    if video:
        tag = f"<video src='{e(video)}' controls loop></video>" if video.endswith(".mp4") else f"<img src='{e(video)}' alt='episode'>"
        parts.append(f"<h2>Episode video</h2>{tag}<p><a href='{e(video)}'>{e(video)}</a></p>")
    notes = _severity_notes(results)
    if notes:
        parts.append("<h2>Perturbation severities</h2><ul>" + "".join(f"<li>{e(n)}</li>" for n in notes) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(
    results: Sequence[EvaluationResult], out_dir: str | Path, video: str | Path | None = None,
    title: str = "liquidcontrol evaluation",
) -> ReportFiles:
    """Write results.json, results.csv, success_vs_severity.png, report.md and report.html.

    ``video`` (an existing file, ideally inside ``out_dir``) is linked from
    both reports by a path relative to ``out_dir``.
    """
    if not results:
        raise LiquidControlError("write_report needs at least one evaluation result.")
    names = [[c.condition.name for c in r.conditions] for r in results]
    if any(n != names[0] for n in names):
        raise LiquidControlError("all results in one report must cover the same conditions in the same order.")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_results(results, str(out / "results.json"), str(out / "results.csv"))
    plot = plot_success_vs_severity(results, out / "success_vs_severity.png")
    video_rel = None
    if video is not None:
        vpath = Path(video)
        video_rel = str(vpath.resolve().relative_to(out.resolve())) if vpath.resolve().is_relative_to(out.resolve()) else str(vpath.resolve())
    plot_rel = plot.name if plot else None
    md = atomic_write_text(out / "report.md", _markdown(title, results, plot_rel, video_rel))
    page = atomic_write_text(out / "report.html", _html(title, results, plot_rel, video_rel))
    return ReportFiles(md, page, plot, out / "results.json", out / "results.csv", Path(video) if video else None)
