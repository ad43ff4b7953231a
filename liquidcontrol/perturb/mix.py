"""Perturb some episodes and not others, decided by the episode seed.

DAgger trains with perturbations in half of its rollouts. Which episodes are
perturbed must depend only on the episode's seed (not on the slot that runs
it, nor on how many envs run in lockstep), and physics perturbations change
the model itself, so the clean and the perturbed episodes run on two
separate env instances; :class:`EpisodeMix` picks one at every reset.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, SupportsFloat

import gymnasium as gym

from liquidcontrol.errors import LiquidControlError


def even_seeds(seed: int) -> bool:
    """The default choice: episodes with an even seed are perturbed (half of consecutive seeds)."""
    return seed % 2 == 0


class EpisodeMix(gym.Wrapper):
    """Runs each episode on ``perturbed`` if ``choose(seed)``, else on ``clean``.

    Both envs must be the same task (same spaces). ``unwrapped`` and every
    attribute follow the env of the current episode, so a scripted expert
    reading ``env.unwrapped`` labels from the true state of the env it is in.
    """

    def __init__(self, clean: gym.Env, perturbed: gym.Env, choose: Callable[[int], bool] = even_seeds) -> None:
        super().__init__(clean)
        if clean.action_space != perturbed.action_space:
            raise LiquidControlError("EpisodeMix needs two envs of the same task (their action spaces differ).")
        self.clean, self.perturbed, self.choose = clean, perturbed, choose
        self.is_perturbed = False

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        if seed is None:
            raise LiquidControlError("EpisodeMix decides per episode seed: reset it with seed=...")
        self.is_perturbed = bool(self.choose(int(seed)))
        self.env = self.perturbed if self.is_perturbed else self.clean
        return self.env.reset(seed=seed, options=options)

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        return self.env.step(action)

    def close(self) -> None:
        self.clean.close()
        self.perturbed.close()
