"""Wilson intervals, per-condition metrics and robustness summaries, against known numbers."""

from __future__ import annotations

import numpy as np
import pytest

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.evaluate import EpisodeRecord, robustness_summary, summarize, wilson_interval
from liquidcontrol.evaluate.metrics import path_length, smoothness


@pytest.mark.parametrize(
    "k,n,low,high",
    [  # reference values: Wilson score interval, z = 1.96 (e.g. statsmodels proportion_confint method="wilson")
        (0, 10, 0.0, 0.27753),
        (5, 10, 0.23659, 0.76341),
        (10, 10, 0.72247, 1.0),
        (81, 100, 0.72221, 0.87485),
        (1, 20, 0.00889, 0.23612),
    ],
)
def test_wilson_known_values(k, n, low, high):
    lo, hi = wilson_interval(k, n)
    assert lo == pytest.approx(low, abs=5e-5) and hi == pytest.approx(high, abs=5e-5)


def test_wilson_edge_cases():
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(LiquidControlError, match="between 0 and n=5"):
        wilson_interval(6, 5)


def test_path_length_and_smoothness_of_scripted_trajectory():
    # A 3-4-5 triangle leg then 1 m back: 5 + 1 = 6 m.
    assert path_length(np.array([[0, 0], [3, 4], [3, 5]])) == pytest.approx(6.0)
    assert path_length(np.array([[0, 0, 0], [2, 3, 6], [2, 3, 7]])) == pytest.approx(8.0)  # 3-D (a drone)
    acts = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, -1.0], [0.0, -1.0]])
    # |Δa| per step and dim: (1, 0), (0, 1), (1, 0) -> mean 0.5
    assert smoothness(acts) == pytest.approx(0.5)
    assert smoothness(acts[:1]) == 0.0 and path_length(np.zeros((1, 2))) == 0.0


def record(seed, success, collision=False, steps=100, path=2.0, smooth=0.1, unstable=False):
    return EpisodeRecord(seed, success, collision, unstable, False, steps, steps * 0.05, path, smooth, 1.0)


def test_summarize_numbers():
    eps = [record(0, True, steps=100), record(1, True, steps=200), record(2, False, collision=True, path=5.0),
           record(3, False, unstable=True, smooth=0.5)]
    m = summarize(eps)
    assert (m.n_episodes, m.successes, m.success_rate) == (4, 2, 0.5)
    assert m.time_to_success_s == pytest.approx(7.5)  # (5 s + 10 s) / 2, successes only
    assert m.collision_rate == 0.25 and m.unstable_count == 1
    assert m.path_length_m == pytest.approx(2.75) and m.smoothness == pytest.approx(0.2)
    assert (m.success_ci_low, m.success_ci_high) == pytest.approx(wilson_interval(2, 4))
    assert summarize([record(0, False)]).time_to_success_s is None


def test_robustness_summary_numbers():
    out = robustness_summary([0, 1, 3, 5], [1.0, 0.8, 0.6, 0.2])
    # trapezoids: 0.9*1 + 0.7*2 + 0.4*2 = 3.1 over a span of 5
    assert out["auc"] == pytest.approx(0.62)
    assert out["worst"] == 0.2 and out["worst_severity"] == 5
    assert robustness_summary([3], [0.4])["auc"] == 0.4
