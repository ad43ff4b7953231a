"""The seed plan: which episode seeds each stage of the pipeline plays.

One plan keeps every stage apart, for every task, training seed and budget:

============== ======================================================= =====================
stage          seeds                                                    used by
============== ======================================================= =====================
evaluation     ``0 .. 999,999``                                         ``eval``, main job
validation     ``1,000,000 .. 1,999,999`` (the same for every run)      DAgger checkpoint pick
training       ``2,000,000 + 10,000,000 * train_seed``                  demonstrations, DAgger
               ``+ 100,000 * round + k``, round 0 = demonstrations,
               ``k < 100,000``, ``round < 100``
============== ======================================================= =====================

So a training seed owns the block ``[2e6 + 1e7 * s, 2e6 + 1e7 * (s + 1))`` and
each of its rounds a sub-block of 100,000 episodes: no two stages, seeds or
rounds ever share an episode seed. Every function raises a clear error
instead of spilling into a neighbour's block.
"""

from __future__ import annotations

from liquidcontrol.errors import LiquidControlError

EVALUATION_BASE = 0
VALIDATION_BASE = 1_000_000
TRAINING_BASE = 2_000_000
BLOCK = 1_000_000  # episodes in the evaluation and validation ranges
PER_TRAINING_SEED = 10_000_000
PER_ROUND = 100_000
MAX_ROUNDS = PER_TRAINING_SEED // PER_ROUND  # round 0 (demonstrations) .. 99


def _check_count(what: str, first: int, n: int, limit: int) -> None:
    if n < 0:
        raise LiquidControlError(f"{what}: the number of episodes must be zero or positive, got {n}.")
    if first < 0 or first + n > limit:
        raise LiquidControlError(
            f"{what}: episodes {first}..{first + n - 1} leave the {limit} seeds this stage owns; "
            "use fewer episodes or another start.")


def evaluation_seeds(n: int, first: int = 0) -> list[int]:
    """Held-out seeds ``first .. first + n - 1`` (evaluation starts at 0 by default)."""
    _check_count("evaluation", first, n, BLOCK)
    return [EVALUATION_BASE + first + k for k in range(n)]


def validation_seeds(n: int) -> list[int]:
    """Fixed seeds for checkpoint selection, shared by every run so rounds compare fairly."""
    _check_count("validation", 0, n, BLOCK)
    return [VALIDATION_BASE + k for k in range(n)]


def training_seeds(train_seed: int, round_: int, n: int) -> list[int]:
    """Seeds of training round ``round_`` (0 = expert demonstrations, 1.. = DAgger rounds)."""
    if isinstance(train_seed, bool) or not isinstance(train_seed, int) or train_seed < 0:
        raise LiquidControlError(f"the training seed must be a non-negative integer, got {train_seed!r}.")
    if not 0 <= round_ < MAX_ROUNDS:
        raise LiquidControlError(f"training round {round_} is outside 0..{MAX_ROUNDS - 1}; the seed plan has "
                                 f"{MAX_ROUNDS} rounds per training seed.")
    _check_count(f"training round {round_}", 0, n, PER_ROUND)
    first = TRAINING_BASE + PER_TRAINING_SEED * train_seed + PER_ROUND * round_
    return list(range(first, first + n))


def stage_of(seed: int) -> str:
    """Which stage owns an episode seed: "evaluation", "validation" or "training"."""
    if seed < 0:
        raise LiquidControlError(f"episode seeds are non-negative, got {seed}.")
    if seed < VALIDATION_BASE:
        return "evaluation"
    if seed < TRAINING_BASE:
        return "validation"
    return "training"
