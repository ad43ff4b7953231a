"""The seed plan: demonstrations, DAgger rounds, validation and evaluation never share an
episode seed, for any training seed and any budget the plan allows."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liquidcontrol import seeds as plan
from liquidcontrol.errors import LiquidControlError
from liquidcontrol.seeds import (
    BLOCK,
    MAX_ROUNDS,
    PER_ROUND,
    evaluation_seeds,
    stage_of,
    training_seeds,
    validation_seeds,
)

LARGE_TRAINING_SEEDS = [1_000, 65_535, 1_000_000, 2**31 - 1, 10**9]


def _runs(seeds: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted seeds as maximal runs of consecutive integers [lo, hi] (a repeat is its own run)."""
    if isinstance(seeds, range):
        assert seeds.step == 1
        return [(seeds.start, seeds.stop - 1)] if len(seeds) else []
    out: list[tuple[int, int]] = []
    for s in sorted(seeds):
        if out and s == out[-1][1] + 1:
            out[-1] = (out[-1][0], s)
        else:
            out.append((s, s))
    return out


def find_overlaps(stages: dict[str, Sequence[int]]) -> list[tuple[str, str]]:
    """Pairs of stages sharing a seed (a stage repeating a seed pairs with itself). Python ints of any
    size; a stage may be a ``range`` (one interval, so huge stages cost nothing)."""
    intervals = sorted((lo, hi, name) for name, seeds in stages.items() for lo, hi in _runs(seeds))
    found: set[tuple[str, str]] = set()
    open_: list[tuple[int, str]] = []  # (hi, name) of intervals that may still overlap the next one
    for lo, hi, name in intervals:
        open_ = [(h, n) for h, n in open_ if h >= lo]
        for _, other in open_:
            found.add((min(name, other), max(name, other)))
        open_.append((hi, name))
    return sorted(found)


def plan_of(train_seed: int, demo: int, rounds: int, per_round: int, validation: int, evaluation: int,
            eval_first: int = 0) -> dict[str, list[int]]:
    stages = {"demonstrations": training_seeds(train_seed, 0, demo),
              "validation": validation_seeds(validation),
              "evaluation": evaluation_seeds(evaluation, first=eval_first)}
    for r in range(1, rounds + 1):
        stages[f"dagger round {r}"] = training_seeds(train_seed, r, per_round)
    return stages


def test_checker_finds_overlaps_and_repeats():
    assert find_overlaps({"a": [1, 2, 3], "b": [4, 5], "c": [10]}) == []
    assert find_overlaps({"a": [1, 2, 3], "b": [3, 4]}) == [("a", "b")]
    assert find_overlaps({"a": [1, 50], "b": [20, 30], "c": [49]}) == []  # runs, not hulls
    assert find_overlaps({"a": [5, 5]}) == [("a", "a")]
    assert find_overlaps({"a": [10**19, 10**19 + 1], "b": [10**19 + 1]}) == [("a", "b")]
    assert find_overlaps({"a": range(0, 10**9), "b": [10**9 - 1]}) == [("a", "b")]
    assert find_overlaps({"a": range(0, 10**9), "b": range(10**9, 2 * 10**9)}) == []


def _as_range(seeds: list[int]) -> range:
    """A stage's seeds as a range, checking they are exactly consecutive."""
    out = range(seeds[0], seeds[-1] + 1) if seeds else range(0)
    assert seeds == list(out)
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    train_seed=st.one_of(st.integers(0, 50), st.sampled_from(LARGE_TRAINING_SEEDS)),
    demo=st.integers(0, PER_ROUND),
    rounds=st.integers(0, MAX_ROUNDS - 1),
    per_round=st.integers(0, 3_000),
    validation=st.integers(0, BLOCK),
    evaluation=st.integers(0, BLOCK),
)
def test_no_stage_or_round_shares_a_seed(train_seed, demo, rounds, per_round, validation, evaluation):
    stages = plan_of(train_seed, demo, rounds, per_round, validation, evaluation)
    assert find_overlaps(stages) == []
    for name, seeds in stages.items():
        want = "training" if name.startswith(("demo", "dagger")) else name
        assert all(stage_of(s) == want for s in (seeds[:1] + seeds[-1:]))


@pytest.mark.parametrize("train_seed", [0, 1, 50, *LARGE_TRAINING_SEEDS[-2:]])
def test_the_largest_budget_stays_apart(train_seed):
    # Every round at its maximum (10 million training episodes), each stage checked to be one run.
    stages: dict[str, Sequence[int]] = {"validation": _as_range(validation_seeds(BLOCK)),
                                        "evaluation": _as_range(evaluation_seeds(BLOCK))}
    for r in range(MAX_ROUNDS):
        stages[f"round {r}"] = _as_range(training_seeds(train_seed, r, PER_ROUND))
    assert find_overlaps(stages) == []


def test_training_seeds_of_different_training_seeds_never_meet():
    stages = {f"seed {s} round {r}": training_seeds(s, r, 50)
              for s in (0, 1, 2, 49, 50) for r in (0, 1, MAX_ROUNDS - 1)}
    assert find_overlaps(stages) == []


@pytest.mark.parametrize("call", [
    lambda: evaluation_seeds(BLOCK + 1),
    lambda: evaluation_seeds(-1),
    lambda: evaluation_seeds(10, first=BLOCK - 5),
    lambda: evaluation_seeds(1, first=-1),
    lambda: validation_seeds(BLOCK + 1),
    lambda: validation_seeds(-3),
    lambda: training_seeds(0, 0, PER_ROUND + 1),
    lambda: training_seeds(0, 1, -1),
    lambda: training_seeds(0, MAX_ROUNDS, 1),
    lambda: training_seeds(0, -1, 1),
    lambda: training_seeds(-1, 0, 1),
    lambda: training_seeds(True, 0, 1),
    lambda: training_seeds(1.5, 0, 1),  # type: ignore[arg-type]
    lambda: stage_of(-1),
])
def test_out_of_range_requests_raise(call):
    with pytest.raises(LiquidControlError):
        call()


def test_boundaries_are_allowed():
    assert len(evaluation_seeds(BLOCK)) == BLOCK and evaluation_seeds(5, first=BLOCK - 5)[-1] == BLOCK - 1
    assert training_seeds(3, MAX_ROUNDS - 1, PER_ROUND)[-1] == plan.TRAINING_BASE + plan.PER_TRAINING_SEED * 4 - 1
    assert evaluation_seeds(0) == validation_seeds(0) == training_seeds(0, 0, 0) == []


def test_dagger_budgets_outside_the_plan_fail_before_training():
    from liquidcontrol.train.dagger import DaggerConfig, resolve

    resolve(DaggerConfig(iterations=MAX_ROUNDS - 1, episodes_per_iteration=PER_ROUND))  # the largest allowed
    for bad in (dict(iterations=MAX_ROUNDS), dict(episodes_per_iteration=PER_ROUND + 1),
                dict(demo_episodes=PER_ROUND + 1), dict(validation_episodes=BLOCK + 1)):
        with pytest.raises(LiquidControlError):
            resolve(DaggerConfig(**bad))


def test_a_plan_with_overlapping_rounds_is_caught(monkeypatch):
    # Rounds 10 seeds apart but 20 episodes each (and the guard that would refuse it removed).
    monkeypatch.setattr(plan, "PER_ROUND", 10)
    monkeypatch.setattr(plan, "_check_count", lambda *args: None)
    stages = plan_of(0, demo=20, rounds=2, per_round=20, validation=5, evaluation=5)
    assert find_overlaps(stages) == [("dagger round 1", "dagger round 2"), ("dagger round 1", "demonstrations")]


def test_a_plan_whose_validation_starts_inside_evaluation_is_caught(monkeypatch):
    monkeypatch.setattr(plan, "VALIDATION_BASE", 500)
    assert find_overlaps(plan_of(0, demo=5, rounds=1, per_round=5, validation=10, evaluation=600)) == [
        ("evaluation", "validation")]
