"""The main job's report folder: clean and robustness reports, a video, and an index.

``write_main_report`` takes the evaluation results and the job's summary
(see ``liquidcontrol.main_job``) and writes::

    report/
      index.md, index.html   clean success, the ONNX check, training rounds, links
      clean/                 write_report of the clean evaluation
      robustness/            write_report of the perturbation sweep (if any)
      episode.mp4            one clean episode of the trained policy
      interpretability/      camera policies only: saliency maps, neuron traces, their video
                             (see liquidcontrol.evaluate.interpret)
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from liquidcontrol.evaluate.agents import AgentFactory
from liquidcontrol.evaluate.report import write_report
from liquidcontrol.evaluate.sweep import EvaluationResult
from liquidcontrol.evaluate.video import record_episode
from liquidcontrol.fileio import atomic_write_text
from liquidcontrol.tasks import Task


def write_main_report(folder: Path, task: Task, agent: AgentFactory, clean: Sequence[EvaluationResult],
                      sweep: Sequence[EvaluationResult], summary: dict[str, Any], video_seed: int = 0,
                      policy: Any = None) -> dict[str, Any]:
    """Write every report file; returns the relative links (also stored in ``summary["report_files"]``).
    With the torch ``policy`` of a camera task it also writes the interpretability folder."""
    folder.mkdir(parents=True, exist_ok=True)
    title = task.title or task.name
    kwargs = {"camera": task.render_camera} if task.render_camera else {}
    video, _ = record_episode(agent, task.env_id, folder / "episode.mp4", seed=video_seed,
                              env_kwargs={**task.env_kwargs, **kwargs})
    write_report(clean, folder / "clean", title=f"{title}, clean, {clean[0].n_episodes} held-out episodes")
    if sweep:
        write_report(sweep, folder / "robustness", title=f"{title} under perturbations")
    files = {"video": video.name, "clean": "clean/report.html",
             "robustness": "robustness/report.html" if sweep else None}
    if policy is not None:
        from liquidcontrol.evaluate.interpret import write_interpretation

        interp = write_interpretation(policy, task, folder / "interpretability", seed=video_seed)
        if interp is not None:
            files.update({f"interpretability_{k}": f"interpretability/{v}" for k, v in interp.items()
                          if k in ("saliency", "neurons", "video")})
    summary["report_files"] = files
    atomic_write_text(folder / "index.md", index_markdown(summary))
    atomic_write_text(folder / "index.html", index_html(summary))
    return files


def index_markdown(s: dict[str, Any]) -> str:
    files = s["report_files"]
    lines = [f"# liquidcontrol main job: {s['kind']} on {s['env_id']} (task {s['task']})", "",
             f"Policy bundle: `{s['bundle']}`", "", "## Clean success (held-out seeds, 95% CI)", "",
             "| agent | success | 95% CI |", "|---|---|---|"]
    for name, m in s["clean"].items():
        lines.append(f"| {name} | {m['success']:.1%} | {m['ci95'][0]:.1%} – {m['ci95'][1]:.1%} |")
    chk = s["onnx_check"]
    delta = chk["max_abs_action_delta"]
    lines += ["", f"ONNX closed-loop check on the shipped file: outcomes agree on {chk['seed_agreement']:.1%} of "
              f"{chk['episodes']} seeds (needs {chk['min_agreement']:.0%}); max |Δaction| on the same observations "
              f"{'inf' if delta is None else f'{delta:.2e}'} over {chk['steps_compared']} steps (needs ≤ "
              f"{chk['action_tolerance']:.0e}): {'passed' if chk['passed'] else 'FAILED'}.",
              "", "## Training (success on the fixed validation seeds; on its own DAgger rollouts)", "",
              "| round | validation success | rollout success | data steps |", "|---|---|---|---|"]
    lines += [f"| {h['iteration']} | {_pct(h['validation_success'])} | {_pct(h['learner_success'])} | {h['steps']} |"
              for h in s["training"]["history"]]
    lines += ["", "## Reports", "", f"- [clean evaluation]({files['clean']})"]
    if files["robustness"]:
        lines.append(f"- [robustness sweep]({files['robustness']})")
    lines += [f"- [episode video]({files['video']})"]
    if files.get("interpretability_saliency"):
        lines += ["", "## What the camera policy looks at", "",
                  "VisualBackprop saliency (frames above, overlays below) and the neurons over the same episode:", "",
                  f"![saliency]({files['interpretability_saliency']})", "",
                  f"![neurons]({files['interpretability_neurons']})", "",
                  f"- [saliency and neuron video]({files['interpretability_video']})"]
    lines.append("")
    return "\n".join(lines)


def _pct(value: float | None) -> str:
    """A rate as a percentage; NaN or None (not measured in that round) as a dash."""
    return "–" if value is None or value != value else f"{value:.1%}"


def index_html(s: dict[str, Any]) -> str:
    body = html.escape(index_markdown(s))
    files = s["report_files"]
    links = [f'<li><a href="{files["clean"]}">clean evaluation</a></li>']
    if files["robustness"]:
        links.append(f'<li><a href="{files["robustness"]}">robustness sweep</a></li>')
    video = f'<video src="{files["video"]}" controls width="480"></video>' if files["video"].endswith(".mp4") \
        else f'<img src="{files["video"]}" width="480">'
    if files.get("interpretability_saliency"):
        links.append(f'<li><a href="{files["interpretability_video"]}">saliency and neuron video</a></li>')
        video += (f'<h2>What the camera policy looks at</h2><img src="{files["interpretability_saliency"]}">'
                  f'<br><img src="{files["interpretability_neurons"]}">')
    return ("<!doctype html><html><head><meta charset='utf-8'><title>liquidcontrol main job</title></head><body>"
            f"<h1>liquidcontrol main job</h1><ul>{''.join(links)}</ul>{video}<pre>{body}</pre></body></html>")
