"""The task registry: lookups and their errors, registration rules, training perturbations,
per-episode metric reducers, and the rule that the pipeline itself never names a task."""

from __future__ import annotations

import ast
import io
import math
import tokenize
from pathlib import Path

import pytest

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.tasks import (
    DEFAULT_TASK,
    TASKS,
    EpisodeMetric,
    MetricAccumulator,
    Task,
    get_task,
    register_task,
    task_for_env,
    task_names,
    unregister_task,
)

ROOT = Path(__file__).resolve().parents[1]
# The task-agnostic pipeline: nothing here may name a task (docstrings and comments may, as examples).
PIPELINE = ["liquidcontrol/train", "liquidcontrol/evaluate", "liquidcontrol/export", "liquidcontrol/runtime",
            "liquidcontrol/main_job.py", "liquidcontrol/compare.py", "liquidcontrol/rollout.py",
            "liquidcontrol/seeds.py", "liquidcontrol/obs.py", "liquidcontrol/progress.py"]
FORBIDDEN = "parking"


class _Expert:
    def reset(self):
        pass

    def act(self, env):
        return [0.0, 0.0]


def _task(name="dummy", **kw):
    return Task(**{"name": name, "env_id": f"liquidcontrol-tests/{name}-v0", "make_expert": _Expert, "kind": "lstm",
                   "units": 4, **kw})


@pytest.fixture
def scratch():
    """Names registered by a test are removed afterwards."""
    names = []
    yield names
    for name in names:
        unregister_task(name)


# -- lookups and registration ---------------------------------------------------------------
def test_unknown_task_lists_the_known_ones():
    with pytest.raises(LiquidControlError) as err:
        get_task("nope")
    msg = str(err.value)
    assert "unknown task 'nope'" in msg and "choose one of" in msg
    assert all(name in msg for name in task_names()) and "parking" in msg


def test_builtin_task_and_env_lookup():
    task = get_task(DEFAULT_TASK)
    assert task.name == DEFAULT_TASK and task_for_env(task.env_id) is task
    assert task_for_env("liquidcontrol-tests/Nowhere-v0") is None


def test_second_registration_needs_replace(scratch):
    first = register_task(_task("twice"))
    scratch.append("twice")
    assert register_task(first) is first  # the same object again is harmless
    with pytest.raises(LiquidControlError, match="'twice' is already registered"):
        register_task(_task("twice", units=8))
    assert get_task("twice") is first
    second = register_task(_task("twice", units=8), replace=True)
    assert get_task("twice") is second and second.units == 8


def test_unregister_removes_the_task(scratch):
    register_task(_task("gone"))
    unregister_task("gone")
    assert "gone" not in TASKS
    with pytest.raises(LiquidControlError, match="unknown task 'gone'"):
        get_task("gone")
    unregister_task("gone")  # removing twice is fine


@pytest.mark.parametrize("bad", [dict(name=""), dict(name="has space"), dict(name="a/b"), dict(units=0)])
def test_invalid_tasks_are_refused(bad):
    with pytest.raises(LiquidControlError):
        _task(**bad)


def test_held_out_perturbations_are_refused_for_training():
    task = get_task("parking")
    task.check_train_perturbations(["rain", "obs_noise"])  # allowed
    task.check_train_perturbations([])
    with pytest.raises(LiquidControlError) as err:
        task.check_train_perturbations(["rain", "sensor_dropout", "friction"])
    msg = str(err.value)
    assert "['friction', 'sensor_dropout'] held out" in msg and "rain, obs_noise, action_noise" in msg
    with pytest.raises(LiquidControlError, match="allows none"):
        _task().check_train_perturbations(["rain"])


# -- per-episode metrics -------------------------------------------------------------------------
def _reduce(how, values):
    acc = MetricAccumulator(EpisodeMetric("m", "1", lambda info: info.get("v"), how))
    for v in values:
        acc.add({} if v is None else {"v": v})
    return acc.value()


@pytest.mark.parametrize("how,expected", [("mean", 2.5), ("max", 6.0), ("last", 2.0), ("sum", 10.0)])
def test_metric_reducers(how, expected):
    # Steps without a value (None) are skipped: "last" is the last *measured* value.
    assert _reduce(how, [3.0, None, -1.0, 6.0, 2.0, None]) == pytest.approx(expected)


def test_metric_reducers_edge_cases():
    assert all(math.isnan(_reduce(how, [None, None])) for how in ("mean", "max", "last", "sum"))
    assert _reduce("max", [-5.0, -7.0]) == -5.0  # not max(0, ...)
    assert _reduce("sum", [0.0]) == 0.0
    with pytest.raises(LiquidControlError, match="reduce 'median'"):
        EpisodeMetric("m", "1", lambda info: None, "median")


# -- the pipeline never names a task ------------------------------------------------------------
def named_tasks(source: str, word: str = FORBIDDEN) -> list[tuple[int, str]]:
    """(line, token) of identifiers and string literals mentioning ``word`` (any case);
    comments and docstrings (module, class, function) are allowed to."""
    docstrings = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                docstrings.add((first.value.lineno, first.value.col_offset))
    kinds = {tokenize.NAME, tokenize.STRING} | {getattr(tokenize, "FSTRING_MIDDLE", tokenize.STRING)}
    hits = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type in kinds and word in tok.string.lower() and tok.start not in docstrings:
            hits.append((tok.start[0], tok.string))
    return hits


def test_the_checker_flags_code_but_not_docstrings_or_comments():
    source = '''"""Module docstring: e.g. the parking task."""
import os  # parking is an example here


class A:
    """Parking, as an example."""

    def f(self, task="parking"):
        """Docstring naming Parking."""
        PARKING_ID = 1
        x = f"liquidcontrol/{'Parking'}-v0"
        return "not a docstring: parking"
'''
    hits = named_tasks(source)
    assert [line for line, _ in hits] == [8, 10, 11, 12]
    assert hits[1] == (10, "PARKING_ID")


def test_pipeline_modules_never_name_a_task():
    found = []
    for entry in PIPELINE:
        path = ROOT / entry
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        assert files, f"{entry} holds no Python files"
        for file in files:
            for line, token in named_tasks(file.read_text(encoding="utf-8")):
                found.append(f"{file.relative_to(ROOT)}:{line}: {token[:70]}")
    assert not found, "task names in pipeline code (use liquidcontrol.tasks instead):\n" + "\n".join(found)
