"""A memory task that only a correctly reset and replayed recurrent policy solves.

Each episode lasts ``length`` steps (drawn from ``lengths``). On the first
step the observation shows a cue ``c``: -1 or +1, or nothing at all (0, with
probability ``p_blank``). Later steps show nothing but, on *query* steps, a
query flag: at least one, at a random step, and each other step with
probability ``p_query``. Every query step is scored with reward ``1 - |a - c|``;
the episode succeeds (``info["is_success"]`` on its last step) when every
query was answered within 0.25 of the cue. No step marks the end of an
episode, and a query can come on any step but the first.

- Without memory (the state zeroed every step) the queries cannot be
  answered: success at most ``p_blank`` (answer 0 always).
- Without the reset at episode starts, a blank episode after a cued one
  still remembers the old cue (nothing in a blank episode tells the policy a
  new episode began, and the random lengths and query times leave no timing
  to tell by): success at most ``1 - p_blank * (1 - p_blank)``. (A policy
  could still forget a cue older than the longest episode; with lengths up
  to 14 steps that leaves little: measured 0.745, against 0.80 with lengths
  5-9.)

Measured with the test's CfC-NCP 16 after 60 k steps: 1.0 correct, 0.51
with the state zeroed, 0.745 without resets.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np


class CueMemoryEnv(gym.Env):
    metadata: dict[str, Any] = {"render_modes": []}
    control_period = 0.05

    def __init__(self, lengths: tuple[int, int] = (4, 14), p_blank: float = 0.5, p_query: float = 0.3) -> None:
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.lengths, self.p_blank, self.p_query = lengths, p_blank, p_query
        self._t, self._length, self._cue = 0, 1, 0.0
        self._queries = np.zeros(1, bool)
        self._all_right = True

    def _obs(self) -> np.ndarray:
        cue = self._cue if self._t == 0 else 0.0
        return np.array([cue, float(self._queries[self._t])], np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        rng = self.np_random
        self._t, self._all_right = 0, True
        self._length = int(rng.integers(self.lengths[0], self.lengths[1] + 1))
        self._cue = 0.0 if rng.random() < self.p_blank else float(rng.choice([-1.0, 1.0]))
        self._queries = rng.random(self._length) < self.p_query
        self._queries[0] = False
        self._queries[int(rng.integers(1, self._length))] = True
        return self._obs(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        reward, info = 0.0, {}
        if self._queries[self._t]:
            error = abs(float(np.asarray(action).reshape(-1)[0]) - self._cue)
            reward = 1.0 - error
            self._all_right &= error < 0.25
        self._t += 1
        done = self._t == self._length
        if done:
            info["is_success"] = bool(self._all_right)
            return np.zeros(2, np.float32), reward, True, False, info
        return self._obs(), reward, False, False, info
