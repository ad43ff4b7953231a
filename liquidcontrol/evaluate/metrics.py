"""Per-episode records, per-condition metrics, Wilson intervals, robustness curves."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.rollout import EpisodeRecord, path_length, smoothness

__all__ = ["ConditionMetrics", "EpisodeRecord", "path_length", "robustness_summary", "smoothness", "summarize",
           "wilson_interval"]

Z_95 = 1.959963984540054  # two-sided 95 % normal quantile


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (95 % by default).

    Unlike the normal approximation it stays inside [0, 1] and is not
    degenerate at 0 or n successes, which matters for 20-episode sweeps.
    """
    if n <= 0:
        return (0.0, 1.0)
    if not 0 <= successes <= n:
        raise LiquidControlError(f"successes must be between 0 and n={n}, got {successes}.")
    p = successes / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass
class ConditionMetrics:
    """Aggregates over the episodes of one condition (None where undefined)."""

    n_episodes: int
    successes: int
    success_rate: float
    success_ci_low: float
    success_ci_high: float
    time_to_success_s: float | None  # mean over successful episodes
    collision_rate: float
    path_length_m: float
    smoothness: float
    unstable_count: int
    mean_return: float
    extra: dict[str, float | None] = field(default_factory=dict)  # the task's metrics, mean over episodes

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(episodes: Sequence[EpisodeRecord]) -> ConditionMetrics:
    """Metrics of one condition from its episode records."""
    n = len(episodes)
    wins = [e for e in episodes if e.success]
    low, high = wilson_interval(len(wins), n)

    def mean(values: list[float]) -> float:
        return float(np.mean(values)) if values else 0.0

    return ConditionMetrics(
        n_episodes=n,
        successes=len(wins),
        success_rate=len(wins) / n if n else 0.0,
        success_ci_low=low,
        success_ci_high=high,
        time_to_success_s=mean([e.duration_s for e in wins]) if wins else None,
        collision_rate=mean([float(e.collision) for e in episodes]),
        path_length_m=mean([e.path_length_m for e in episodes]),
        smoothness=mean([e.smoothness for e in episodes]),
        unstable_count=sum(int(e.unstable) for e in episodes),
        mean_return=mean([e.episode_return for e in episodes]),
        extra=_extra_means(episodes),
    )


def _extra_means(episodes: Sequence[EpisodeRecord]) -> dict[str, float | None]:
    """Mean of each task metric over the episodes where it was measured (None if never)."""
    names = sorted({k for e in episodes for k in e.metrics})
    out: dict[str, float | None] = {}
    for name in names:
        vals = [e.metrics[name] for e in episodes if name in e.metrics and math.isfinite(e.metrics[name])]
        out[name] = float(np.mean(vals)) if vals else None
    return out


def robustness_summary(severities: Sequence[int], success: Sequence[float]) -> dict[str, float]:
    """Normalised area under success-vs-severity, and the worst severity's success.

    ``auc`` is the trapezoidal area over the tested severities divided by
    their span: 1.0 means full success everywhere, and it equals the plain
    success rate when only one severity is tested. ``worst`` is the lowest
    success over the tested severities and ``worst_severity`` where it occurs.
    """
    sev = np.asarray(severities, dtype=np.float64)
    val = np.asarray(success, dtype=np.float64)
    if sev.size == 0:
        raise LiquidControlError("a robustness curve needs at least one severity.")
    order = np.argsort(sev)
    sev, val = sev[order], val[order]
    span = sev[-1] - sev[0]
    area = float(np.sum((val[1:] + val[:-1]) / 2 * np.diff(sev)))
    auc = area / span if span > 0 else float(val[0])
    worst = int(np.argmin(val))
    return {"auc": auc, "worst": float(val[worst]), "worst_severity": int(sev[worst])}
