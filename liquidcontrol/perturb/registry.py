"""The perturbation registry: named perturbations with severities 0-5.

A :class:`PerturbationSpec` describes one perturbation: its severity table
(``levels[s]`` is the physical setting at severity ``s``; ``levels[0]`` means
"none"), how to build its wrapper, what a level means in words, and whether
training saw it. Later tasks add image effects (camera rain) or wind by
registering more specs with their own ``build``; nothing here changes.

>>> env = apply_perturbations(env, [("rain", 3), ("obs_delay", 2)], seed=0)
>>> env = make_perturbation("obs_noise", 2, keys=["state"]).apply(dict_obs_env)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.perturb.base import SeedLike, seed_words

MAX_SEVERITY = 5
KINDS = ("observation", "action", "physics", "image", "wind", "preset")

#: build(env, level, seed words, groups) -> wrapped env; specs with ``accepts_keys``
#: also take ``keys=`` (Dict observation keys), passed only when a caller selects keys.
BuildFn = Callable[..., gym.Env]


@dataclass(frozen=True)
class PerturbationSpec:
    """One registered perturbation.

    ``levels`` has one entry per severity 0..5. ``describe_level(level,
    control_period_s)`` returns the physical meaning of one level in words.
    ``seen_in_training`` keeps perturbations used for training apart from
    held-out ones in reports. ``default_groups`` limits observation
    perturbations to some sensor groups (None = every channel).
    ``accepts_keys`` says ``build`` takes ``keys=`` (a selection of the keys
    of a Dict observation); only such specs can be bound to keys.
    """

    name: str
    kind: str
    summary: str
    levels: tuple[Any, ...]
    build: BuildFn
    describe_level: Callable[[Any, float], str]
    seen_in_training: bool = False
    default_groups: tuple[str, ...] | None = None
    accepts_keys: bool = False

    def __post_init__(self) -> None:
        if len(self.levels) != MAX_SEVERITY + 1:
            raise ValueError(f"{self.name}: expected {MAX_SEVERITY + 1} levels, got {len(self.levels)}")
        if self.kind not in KINDS:
            raise ValueError(f"{self.name}: kind {self.kind!r} is not one of {KINDS}")

    def describe(self, severity: int, control_period_s: float = 0.05) -> str:
        """Physical meaning of ``severity`` (delays give seconds and steps at ``control_period_s``)."""
        if severity == 0:
            return "none"
        return self.describe_level(self.levels[check_severity(severity)], control_period_s)

    def table(self, control_period_s: float = 0.05) -> list[dict[str, Any]]:
        """Severity table as rows {severity, level, meaning} for docs and reports."""
        return [
            {"severity": s, "level": self.levels[s], "meaning": self.describe(s, control_period_s)}
            for s in range(MAX_SEVERITY + 1)
        ]


PERTURBATIONS: dict[str, PerturbationSpec] = {}


def register_perturbation(spec: PerturbationSpec, *, replace: bool = False) -> PerturbationSpec:
    """Add ``spec`` to :data:`PERTURBATIONS`; re-registering a name needs ``replace=True``."""
    if spec.name in PERTURBATIONS and not replace:
        raise LiquidControlError(f"a perturbation named {spec.name!r} is already registered.")
    PERTURBATIONS[spec.name] = spec
    return spec


def get_spec(name: str) -> PerturbationSpec:
    """The spec registered under ``name``; a clear error lists the valid names."""
    try:
        return PERTURBATIONS[name]
    except KeyError:
        raise LiquidControlError(
            f"unknown perturbation {name!r}; choose one of {', '.join(sorted(PERTURBATIONS))}."
        ) from None


def check_severity(severity: Any) -> int:
    """Return ``severity`` as an int in 0-5, or raise a clear error."""
    ok = isinstance(severity, int) and not isinstance(severity, bool)
    if not ok or not 0 <= severity <= MAX_SEVERITY:
        raise LiquidControlError(
            f"severity must be an integer from 0 (none) to {MAX_SEVERITY}, got {severity!r}."
        )
    return int(severity)


@dataclass(frozen=True)
class Perturbation:
    """A perturbation bound to a severity, a seed, optional observation groups and Dict keys."""

    spec: PerturbationSpec
    severity: int
    seed: tuple[int, ...] = (0,)
    groups: tuple[str, ...] | None = None
    keys: tuple[str, ...] | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def level(self) -> Any:
        """The physical setting at this severity (see the spec's table)."""
        return self.spec.levels[self.severity]

    def describe(self, control_period_s: float = 0.05) -> str:
        return f"{self.name} {self.severity}: {self.spec.describe(self.severity, control_period_s)}"

    def apply(self, env: gym.Env) -> gym.Env:
        """Wrap ``env``; severity 0 returns ``env`` itself, untouched."""
        if self.severity == 0:
            return env
        groups = self.groups if self.groups is not None else self.spec.default_groups
        if self.keys is None:
            return self.spec.build(env, self.level, list(self.seed), groups)
        if not self.spec.accepts_keys:
            raise LiquidControlError(f"{self.name} takes no observation keys (a {self.spec.kind} perturbation).")
        return self.spec.build(env, self.level, list(self.seed), groups, keys=self.keys)


def make_perturbation(
    name: str, severity: int, seed: SeedLike = 0, groups: Sequence[str] | None = None,
    keys: Sequence[str] | None = None,
) -> Perturbation:
    """Look up ``name`` and bind it to ``severity`` (0-5), ``seed``, ``groups`` and ``keys``.

    ``keys`` selects vector keys of a Dict observation (default: every vector
    key; images are never touched); only observation perturbations take it.
    """
    spec = get_spec(name)
    if keys is not None and not spec.accepts_keys:
        raise LiquidControlError(
            f"{name} is a{'n' if spec.kind[0] in 'aeiou' else ''} {spec.kind} perturbation and takes no "
            "observation keys; keys select channels of observation perturbations.")
    return Perturbation(spec, check_severity(severity), tuple(seed_words(seed)), _groups(groups), _groups(keys))


def _groups(groups: Sequence[str] | None) -> tuple[str, ...] | None:
    if groups is None:
        return None
    if isinstance(groups, str):
        return (groups,)
    return tuple(groups)


PerturbationItem = Perturbation | tuple[str, int] | str


def apply_perturbations(env: gym.Env, items: Iterable[PerturbationItem], seed: SeedLike = 0) -> gym.Env:
    """Wrap ``env`` with each perturbation in order (first = innermost).

    Items are :class:`Perturbation` objects, ``(name, severity)`` pairs or
    ``"name:severity"`` strings. The k-th one built here is seeded with
    ``(seed, k)`` so that two perturbations never share a noise stream.
    """
    base = seed_words(seed)
    for k, item in enumerate(items):
        pert = item if isinstance(item, Perturbation) else make_perturbation(*parse_item(item), seed=[*base, k])
        env = pert.apply(env)
    return env


def parse_item(item: tuple[str, int] | str) -> tuple[str, int]:
    """``("rain", 3)`` or ``"rain:3"`` -> ``("rain", 3)``, with clear errors."""
    if isinstance(item, str):
        name, sep, sev = item.partition(":")
        if not sep or not sev.strip().lstrip("-").isdigit():
            raise LiquidControlError(f"expected a perturbation as 'name:severity' (e.g. 'rain:3'), got {item!r}.")
        return name.strip(), int(sev)
    if not isinstance(item, tuple) or len(item) != 2:
        raise LiquidControlError(f"expected a perturbation as (name, severity), got {item!r}.")
    return str(item[0]), item[1]
