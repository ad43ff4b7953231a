"""Reinforcement learning: PPO with the recurrent (liquid) policies, the stable-baselines3 way.

Needs the ``rl`` extra (stable-baselines3). See :mod:`liquidcontrol.rl.ppo`.
"""

from liquidcontrol.rl.ppo import LiquidPPO, NonFiniteLoss

__all__ = ["LiquidPPO", "NonFiniteLoss"]
