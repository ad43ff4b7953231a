"""Fixtures for the evaluation tests: the numpy stand-in env shared with tests/perturb,
registered as a task for the session (its metrics and path-length position), then removed."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

# The stand-in env lives beside the perturbation tests; both folders use it.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "perturb"))

from standin_env import StandInExpert, register  # noqa: E402

from liquidcontrol.evaluate import expert_agent  # noqa: E402
from liquidcontrol.tasks import TASKS, EpisodeMetric, Task, register_task, unregister_task  # noqa: E402

STANDIN_TASK = "standin"


def _position(info):
    pose = info.get("car_pose")
    return None if pose is None else (float(pose[0]), float(pose[1]))


def _final_distance(info):
    pose = info.get("car_pose")
    return None if pose is None else math.hypot(float(pose[0]), float(pose[1]))


@pytest.fixture(scope="session")
def standin_task():
    assert STANDIN_TASK not in TASKS
    task = register_task(Task(
        name=STANDIN_TASK, env_id=register(), make_expert=StandInExpert, kind="lstm", units=8,
        metrics=(EpisodeMetric("final_distance_m", "m", _final_distance, "last"),),
        position=_position, sweep=("friction", "action_delay")))
    yield task
    unregister_task(STANDIN_TASK)


@pytest.fixture(scope="session")
def standin_id(standin_task) -> str:
    return standin_task.env_id


@pytest.fixture
def standin_expert(standin_task):
    return expert_agent(standin_task.make_expert, name="expert")
