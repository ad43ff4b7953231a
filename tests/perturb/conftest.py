"""Fixtures for the perturbation tests: the numpy stand-in env."""

from __future__ import annotations

import pytest
from standin_env import StandInParkingEnv


@pytest.fixture
def still_env() -> StandInParkingEnv:
    """Observation constant in time: any change comes from the perturbation."""
    return StandInParkingEnv(frozen=True, max_steps=10**6)


@pytest.fixture
def counter_env() -> StandInParkingEnv:
    """Every channel reads the step count: delays and freezes show exactly."""
    return StandInParkingEnv(frozen=True, counter=True, max_steps=10**6)
