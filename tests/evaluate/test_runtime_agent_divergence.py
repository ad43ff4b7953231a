"""A runtime-backed agent whose policy diverges on some rows ends only those episodes (as unstable),
like the torch agent does, instead of aborting the evaluation."""

from __future__ import annotations

import numpy as np

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.evaluate.agents import RuntimeAgent


class FakeRunner:
    """Refuses any batch containing an observation whose first entry is > 100."""

    class card:  # noqa: N801 - mimics PolicyCard's attributes
        act_dim, state_dim = 2, 3

    def __init__(self) -> None:
        self.state = np.zeros((1, 3), np.float32)

    def reset(self) -> None:
        self.state = np.zeros((1, 3), np.float32)

    def step(self, obs, dt):
        if (obs[:, 0] > 100).any():
            self.state = np.zeros((1, 3), np.float32)
            raise LiquidControlError("the policy produced a non-finite action; state reset")
        self.state = self.state + 1.0
        return np.tile(obs[:, :1], (1, 2))


def test_diverging_rows_get_nan_actions_and_the_rest_carry_on():
    agent = RuntimeAgent.__new__(RuntimeAgent)
    agent.runner, agent.name, agent.state_dim = FakeRunner(), "fake", 3
    agent.reset(3)
    obs = np.array([[1.0, 0], [500.0, 0], [2.0, 0]], np.float32)
    actions = agent.act(obs, np.full((3, 1), 0.05))
    assert np.isnan(actions[1]).all()
    np.testing.assert_array_equal(actions[[0, 2]], [[1, 1], [2, 2]])
    np.testing.assert_array_equal(agent.runner.state, [[1, 1, 1], [0, 0, 0], [1, 1, 1]])
    agent.reset_done(np.array([False, True, False]))  # the loop restarts slot 1: shapes still fit
    assert agent.runner.state.shape == (3, 3)
