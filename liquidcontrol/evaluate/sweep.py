"""Severity sweeps: one agent, many conditions, N seeded episodes each.

Every condition plays the same episode seeds (``seed, seed + 1, ...``), so
clean and perturbed runs start from the same states and agents are compared
on identical starts (common random numbers: differences are the agent's, not
the luck of the draw).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import gymnasium as gym

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.evaluate.agents import AgentFactory
from liquidcontrol.evaluate.metrics import (
    ConditionMetrics,
    EpisodeRecord,
    robustness_summary,
    summarize,
)
from liquidcontrol.fileio import atomic_write_json, atomic_write_text
from liquidcontrol.perturb import apply_perturbations, check_severity, get_spec, parse_item
from liquidcontrol.progress import make_bar
from liquidcontrol.rollout import StepHook, run_episodes
from liquidcontrol.seeds import evaluation_seeds
from liquidcontrol.tasks import Task, task_for_env


@dataclass(frozen=True)
class Condition:
    """A named set of perturbations applied together; empty = clean."""

    name: str
    perturbations: tuple[tuple[str, int], ...] = ()

    @property
    def family(self) -> str:
        """The perturbation this condition belongs to in a sweep ("clean" if none)."""
        return "+".join(n for n, _ in self.perturbations) or "clean"

    @property
    def severity(self) -> int:
        return max((s for _, s in self.perturbations), default=0)


CLEAN = Condition("clean")


def sweep_conditions(perturbations: Sequence[str], severities: Sequence[int] = (1, 3, 5)) -> list[Condition]:
    """Clean plus each perturbation alone at each severity, e.g. ``rain@3``."""
    conditions = [CLEAN]
    for name in perturbations:
        get_spec(name)  # unknown names fail before any episode runs
        for sev in severities:
            if check_severity(sev) > 0:
                conditions.append(Condition(f"{name}@{sev}", ((name, sev),)))
    return conditions


def make_env(env_id: str, perturbations: Sequence[tuple[str, int]] = (), seed: int = 0, **env_kwargs: Any) -> gym.Env:
    """``gymnasium.make`` with the project's envs registered, then the perturbations applied."""
    try:
        import liquidcontrol.envs  # noqa: F401  (registers liquidcontrol/* ids)
    except ImportError:
        pass
    if env_id not in gym.registry:
        ours = sorted(k for k in gym.registry if k.startswith("liquidcontrol"))
        raise LiquidControlError(f"unknown env id {env_id!r}; registered liquidcontrol envs: {', '.join(ours) or 'none'}.")
    return apply_perturbations(gym.make(env_id, **env_kwargs), [parse_item(p) for p in perturbations], seed=seed)


@dataclass
class ConditionResult:
    condition: Condition
    metrics: ConditionMetrics
    episodes: list[EpisodeRecord]


@dataclass
class EvaluationResult:
    """All conditions of one agent. ``seen_in_training`` names perturbations training used."""

    agent: str
    env_id: str
    seed: int
    n_episodes: int
    conditions: list[ConditionResult] = field(default_factory=list)
    seen_in_training: list[str] = field(default_factory=list)

    def metrics(self, name: str) -> ConditionMetrics:
        for c in self.conditions:
            if c.condition.name == name:
                return c.metrics
        raise LiquidControlError(f"no condition named {name!r}; have {', '.join(c.condition.name for c in self.conditions)}.")

    def curves(self) -> dict[str, dict[str, Any]]:
        """Per perturbation: severities (0 = clean), success, CI bounds, AUC and worst case."""
        clean = [c for c in self.conditions if not c.condition.perturbations]
        out: dict[str, dict[str, Any]] = {}
        for c in self.conditions:
            if len(c.condition.perturbations) != 1:
                continue
            curve = out.setdefault(c.condition.family, {"severity": [], "success": [], "ci_low": [], "ci_high": []})
            if not curve["severity"] and clean:
                _append_point(curve, 0, clean[0].metrics)
            _append_point(curve, c.condition.severity, c.metrics)
        for name, curve in out.items():
            curve.update(robustness_summary(curve["severity"], curve["success"]))
            curve["seen_in_training"] = name in self.seen_in_training
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent": self.agent, "env_id": self.env_id, "seed": self.seed, "n_episodes": self.n_episodes,
            "seen_in_training": self.seen_in_training,
            "conditions": [
                {"name": c.condition.name, "perturbations": [list(p) for p in c.condition.perturbations],
                 "metrics": c.metrics.to_dict(), "episodes": [asdict(e) for e in c.episodes]}
                for c in self.conditions
            ],
            "curves": self.curves(),
        }


def _append_point(curve: dict[str, Any], severity: int, m: ConditionMetrics) -> None:
    curve["severity"].append(severity)
    curve["success"].append(m.success_rate)
    curve["ci_low"].append(m.success_ci_low)
    curve["ci_high"].append(m.success_ci_high)


def evaluate(
    agent_factory: AgentFactory,
    env_id: str,
    conditions: Sequence[Condition],
    n_episodes: int,
    seed: int = 0,
    *,
    n_envs: int = 4,
    env_kwargs: dict[str, Any] | None = None,
    max_steps: int | None = None,
    on_step: StepHook | None = None,
    seen_in_training: Sequence[str] | None = None,
    progress: bool = True,
    task: Task | None = None,
) -> EvaluationResult:
    """Run ``n_episodes`` seeded episodes (evaluation seeds ``seed … seed + n − 1``) per condition.

    ``seen_in_training`` overrides the registry's flags (e.g. from a bundle's
    training recipe). ``task`` (default: the task registered for ``env_id``)
    supplies the extra metrics and env arguments. Envs are rebuilt per
    condition, so physics changes never leak from one condition into the next.
    """
    if n_episodes <= 0:
        raise LiquidControlError(f"n_episodes must be a positive number of episodes, got {n_episodes}.")
    seeds = evaluation_seeds(n_episodes, first=seed)
    task = task if task is not None else task_for_env(env_id)
    kwargs = {**(task.env_kwargs if task is not None else {}), **(env_kwargs or {})}
    width = max(1, min(n_envs, n_episodes))
    result = EvaluationResult("", env_id, seed, n_episodes, seen_in_training=_seen(conditions, seen_in_training))
    bar = make_bar(len(conditions) * n_episodes, env_id, progress, unit="ep")
    try:
        for cond in conditions:
            envs = [make_env(env_id, cond.perturbations, seed, **kwargs) for _ in range(width)]
            try:
                agent = agent_factory(envs)
                result.agent = result.agent or agent.name
                if bar is not None:
                    bar.set_description(f"{agent.name}: {cond.name}")
                episodes = run_episodes(envs, agent, seeds, on_step=on_step, max_steps=max_steps, progress=bar,
                                        task=task)
            finally:
                for env in envs:
                    env.close()
            result.conditions.append(ConditionResult(cond, summarize(episodes), episodes))
    finally:
        if bar is not None:
            bar.close()
    return result


def _seen(conditions: Sequence[Condition], override: Sequence[str] | None) -> list[str]:
    if override is not None:
        return sorted(set(override))
    names = {n for c in conditions for n, _ in c.perturbations}
    return sorted(n for n in names if get_spec(n).seen_in_training)


def save_results(results: Sequence[EvaluationResult], json_path: str, csv_path: str) -> None:
    """All agents' results: full JSON (with episodes) and one CSV row per agent and condition."""
    atomic_write_json(json_path, {"results": [r.to_dict() for r in results]})
    atomic_write_text(csv_path, results_csv(results))


def results_csv(results: Sequence[EvaluationResult]) -> str:
    """CSV text: agent, condition, perturbation, severity, then every metric."""
    buf = io.StringIO()
    fields = [f for f in ConditionMetrics.__dataclass_fields__ if f != "extra"]
    extra = sorted({k for r in results for c in r.conditions for k in c.metrics.extra})
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["agent", "condition", "perturbation", "severity", *fields, *extra])
    for r in results:
        for c in r.conditions:
            row = c.metrics.to_dict()
            more = [c.metrics.extra.get(k) for k in extra]
            writer.writerow([r.agent, c.condition.name, c.condition.family, c.condition.severity,
                             *("" if row[f] is None else row[f] for f in fields),
                             *("" if v is None else v for v in more)])
    return buf.getvalue()
