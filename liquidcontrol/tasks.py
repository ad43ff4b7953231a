"""The task registry: what the pipeline needs to know about a task, in one place.

A task names its env id, its scripted expert, the model it trains by default,
its training recipe, the perturbations of its robustness sweep (and which of
them training may see), its extra per-episode metrics and its render camera.
train/, evaluate/, export/, runtime/ and the main job read everything from
here and never name a task; adding one is its own module(s) plus one
:func:`register_task` call.

>>> from liquidcontrol.tasks import get_task
>>> task = get_task("parking")
>>> task.env_id, task.kind, task.units
('liquidcontrol/Parking-v0', 'cfc-ncp', 12)

The built-in tasks register when ``liquidcontrol.envs`` is imported; it is
imported on the first lookup, so ``get_task`` works without importing it.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from liquidcontrol.errors import LiquidControlError

BUILTIN_TASK_MODULE = "liquidcontrol.envs"
#: The task commands run when ``--task`` is not given (the pipeline modules use this name, never a literal).
DEFAULT_TASK = "parking"
REDUCERS = ("mean", "max", "last", "sum")


class Expert(Protocol):
    """A scripted expert: ``reset()`` at an episode start, ``act(env) -> action``
    from the *unwrapped* env's true state (it never sees perturbed sensors)."""

    def reset(self) -> None: ...

    def act(self, env: Any) -> Any: ...


@dataclass(frozen=True)
class EpisodeMetric:
    """A per-episode number computed from the step ``info`` dicts.

    ``value(info)`` reads one step (None = nothing to record at that step);
    ``reduce`` folds the episode's values into one number: "mean", "max",
    "last" or "sum". Conditions report the mean over episodes.
    """

    name: str
    unit: str
    value: Callable[[dict[str, Any]], float | None]
    reduce: str = "mean"
    description: str = ""

    def __post_init__(self) -> None:
        if self.reduce not in REDUCERS:
            raise LiquidControlError(f"metric {self.name!r}: reduce {self.reduce!r} is not one of {REDUCERS}.")


def info_number(key: str) -> Callable[[dict[str, Any]], float | None]:
    """A metric reader: ``info[key]`` as a float (None when the step has no such entry)."""
    def read(info: dict[str, Any]) -> float | None:
        value = info.get(key)
        return None if value is None else float(value)
    return read


class MetricAccumulator:
    """Running reduction of one :class:`EpisodeMetric` over an episode."""

    def __init__(self, metric: EpisodeMetric) -> None:
        self.metric = metric
        self.total, self.count, self.result = 0.0, 0, math.nan

    def add(self, info: dict[str, Any]) -> None:
        v = self.metric.value(info)
        if v is None:
            return
        v = float(v)
        how = self.metric.reduce
        if how in ("mean", "sum"):
            self.total += v
        elif how == "max":
            self.result = v if self.count == 0 else max(self.result, v)
        else:
            self.result = v
        self.count += 1

    def value(self) -> float:
        if self.count == 0:
            return math.nan
        if self.metric.reduce == "mean":
            return self.total / self.count
        if self.metric.reduce == "sum":
            return self.total
        return self.result


@dataclass(frozen=True)
class Task:
    """One task of the pipeline (see the module docstring).

    ``recipe`` overrides training-config fields (``DaggerConfig``) for this
    task, e.g. the demonstration noise per action dimension. ``sweep`` is the
    default robustness sweep; ``trainable_perturbations`` the ones
    ``--train-perturbations`` may use (the others stay held out);
    ``seen_in_training`` what every recipe of this task sees anyway (e.g.
    action noise on the demonstrations). ``position(info)`` gives the
    position used for path length (None: not reported).
    """

    name: str
    env_id: str
    make_expert: Callable[[], Expert]
    kind: str
    units: int
    title: str = ""
    recipe: dict[str, Any] = field(default_factory=dict)
    sweep: tuple[str, ...] = ()
    trainable_perturbations: tuple[str, ...] = ()
    seen_in_training: tuple[str, ...] = ()
    metrics: tuple[EpisodeMetric, ...] = ()
    position: Callable[[dict[str, Any]], Sequence[float] | None] | None = None
    render_camera: str | None = None
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    time_label: str = "time to success"
    #: ``peer_benchmark(steps) -> (name, steps/s or None if not installed)`` for ``bench env``.
    peer_benchmark: Callable[[int], tuple[str, float | None]] | None = None

    def __post_init__(self) -> None:
        if not self.name or not self.name.replace("_", "").replace("-", "").isalnum():
            raise LiquidControlError(f"task name {self.name!r} must be a non-empty word (letters, digits, - and _).")
        if self.units <= 0:
            raise LiquidControlError(f"task {self.name!r}: units must be positive, got {self.units}.")

    def check_train_perturbations(self, names: Sequence[str]) -> None:
        """Refuse training perturbations this task keeps held out."""
        bad = sorted(set(names) - set(self.trainable_perturbations))
        if bad:
            raise LiquidControlError(
                f"task {self.name!r} keeps {bad} held out of training; it allows "
                f"{', '.join(self.trainable_perturbations) or 'none'}.")


TASKS: dict[str, Task] = {}
_builtins_loaded = False


def register_task(task: Task, *, replace: bool = False) -> Task:
    """Add ``task`` to :data:`TASKS`; re-registering a name needs ``replace=True``."""
    if task.name in TASKS and not replace and TASKS[task.name] is not task:
        raise LiquidControlError(f"a task named {task.name!r} is already registered.")
    TASKS[task.name] = task
    return task


def unregister_task(name: str) -> None:
    """Remove a task (tests register toy tasks and clean up after themselves)."""
    TASKS.pop(name, None)


def _load_builtins() -> None:
    global _builtins_loaded
    if not _builtins_loaded:
        _builtins_loaded = True
        # A plugin import by name: the built-in tasks live in the envs package,
        # which imports this module to register them.
        importlib.import_module(BUILTIN_TASK_MODULE)


def get_task(name: str) -> Task:
    """The task registered under ``name``; a clear error lists the known ones."""
    if name not in TASKS:
        _load_builtins()
    try:
        return TASKS[name]
    except KeyError:
        raise LiquidControlError(f"unknown task {name!r}; choose one of {', '.join(sorted(TASKS)) or 'none'}.") from None


def task_names() -> list[str]:
    _load_builtins()
    return sorted(TASKS)


def task_for_env(env_id: str) -> Task | None:
    """The task whose env id is ``env_id`` (None if no task uses it)."""
    _load_builtins()
    return next((t for t in TASKS.values() if t.env_id == env_id), None)
