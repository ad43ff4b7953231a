"""The measurements behind test_amounts detect a perturbation that does nothing.

Each verifier is fed a wrapper that does nothing and must fail; the
measurement helpers must report zero change for it. Without this a
verifier that always passes would make every amount test meaningless.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from probes import (
    CH,
    NAMES,
    POSE_SPEED_STEER,
    SCALES,
    VERIFY,
    ActionRecorder,
    check_noise,
    check_rate,
    drive,
    lockstep,
    measure_drift,
    measure_dropout,
    measure_frozen,
    measure_lag,
    measure_noise,
    measure_servo,
    parking,
    wiggle,
)


class DoesNothing(gym.Wrapper):
    """Claims to be a perturbation, changes nothing."""


@pytest.mark.parametrize("name", sorted(VERIFY))
def test_each_verifier_fails_for_a_wrapper_that_does_nothing(name):
    with pytest.raises(AssertionError):
        VERIFY[name](DoesNothing, 3)


def test_helpers_measure_zero_change_for_the_identity():
    episodes = lockstep(DoesNothing(parking()), wiggle(800), seeds=[0, 1])
    noise = measure_noise(episodes)
    assert np.all(noise["std"] == 0) and np.all(noise["mean"] == 0)
    with pytest.raises(AssertionError):
        check_noise(noise, 0.05 * SCALES, list(range(len(NAMES))))
    assert measure_lag(episodes, list(range(len(NAMES)))) == 0
    assert np.all(measure_drift(episodes) == 0)
    fail = {ch: None for ch in range(len(NAMES))}
    dropout = measure_dropout(episodes, list(range(len(NAMES))), fail)
    assert dropout["rate"] == 0 and dropout["n"] > 10_000 and dropout["wrong"] == 0
    with pytest.raises(AssertionError):
        check_rate(dropout["rate"], dropout["n"], 0.01)
    frozen = measure_frozen(episodes, POSE_SPEED_STEER)
    assert frozen["fraction"] == 0 and frozen["lengths"] == [] and frozen["eligible"] > 5_000
    servo = measure_servo(DoesNothing(parking()))
    assert abs(servo["offset_rad"]) < 1e-9 and abs(servo["backlash_rad"]) < 1e-9
    assert servo["slew_rad_s"] == pytest.approx(3.0, rel=0.01)  # the env's own servo


def test_recorder_sees_the_commands_unchanged_without_perturbation():
    recorder = ActionRecorder(parking())
    sent = wiggle(50)
    drive(DoesNothing(recorder), sent)
    np.testing.assert_array_equal(np.array(recorder.received), sent)


def test_wiggle_drives_a_whole_episode_with_every_pose_speed_steer_reading_changing():
    env = parking()
    for seed in range(10):
        run = drive(env, wiggle(800), seed)
        assert len(run["obs"]) == 800  # drive() asserts no collision or exit before the 40 s truncation
        changing = [ch for ch in POSE_SPEED_STEER if np.all(np.diff(run["obs"][:, ch]) != 0)]
        assert {CH["x"], CH["y"], CH["speed"], CH["steering"]} <= set(changing)
