"""Fixtures for the evaluation tests: the numpy stand-in env shared with tests/perturb."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The stand-in env lives beside the perturbation tests; both folders use it.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "perturb"))

from standin_env import StandInExpert, register  # noqa: E402

from liquidcontrol.evaluate import expert_agent  # noqa: E402


@pytest.fixture(scope="session")
def standin_id() -> str:
    return register()


@pytest.fixture
def standin_expert():
    return expert_agent(StandInExpert, name="expert")
