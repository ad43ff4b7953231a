"""Agent factories for evaluation (the :class:`~liquidcontrol.rollout.Agent`
protocol and the torch and expert agents live in :mod:`liquidcontrol.rollout`,
shared with training).

Agents are built by a factory ``factory(envs) -> Agent`` because the expert
needs the envs themselves (it re-plans from the true car state); policies
ignore them. Adapters: :func:`torch_agent`, :func:`runtime_agent`,
:func:`expert_agent`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.rollout import Agent, ExpertAgent, TorchPolicyAgent

__all__ = ["Agent", "AgentFactory", "ExpertAgent", "RuntimeAgent", "TorchPolicyAgent", "check_bundle",
           "expert_agent", "load_torch_bundle", "runtime_agent", "torch_agent", "torch_bundle_agent"]

AgentFactory = Callable[[Sequence[gym.Env]], Agent]


class RuntimeAgent:
    """A policy bundle run by :class:`liquidcontrol.runtime.PolicyRunner` (no torch)."""

    def __init__(self, bundle_dir: str | Path, backend: str = "onnxruntime", name: str | None = None) -> None:
        from liquidcontrol.runtime.runner import PolicyRunner

        self.runner = PolicyRunner(bundle_dir, backend=backend)
        self.name = name or f"policy ({backend})"
        self.state_dim = int(self.runner.card.state_dim)

    def reset(self, n_envs: int) -> None:
        self.n = n_envs
        self.runner.reset()
        self.runner.state = np.zeros((n_envs, self.state_dim), dtype=np.float32)

    def act(self, obs: Any, dt: np.ndarray, active: np.ndarray | None = None) -> np.ndarray:
        """Actions for the batch. If the runtime refuses the batch (a row diverged to
        NaN), each row is stepped alone: the failing rows get NaN actions (the loop
        ends those episodes as unstable) and a zero state; the others carry on."""
        batch = obs if isinstance(obs, dict) else np.asarray(obs, dtype=np.float32)
        dt = np.asarray(dt, np.float32).reshape(-1, 1)
        before = self.runner.state
        try:
            return np.asarray(self.runner.step(batch, dt), dtype=np.float32)
        except LiquidControlError:
            return self._rows(batch, dt, before)

    def _rows(self, batch: Any, dt: np.ndarray, before: np.ndarray) -> np.ndarray:
        actions = np.full((self.n, self.runner.card.act_dim), np.nan, np.float32)
        states = np.zeros_like(before)
        for i in range(self.n):
            row = {k: v[i:i + 1] for k, v in batch.items()} if isinstance(batch, dict) else batch[i:i + 1]
            self.runner.state = before[i:i + 1]
            try:
                actions[i] = self.runner.step(row, dt[i:i + 1])[0]
                states[i] = self.runner.state[0]
            except LiquidControlError:
                pass  # NaN action, zero state: this episode ends as unstable
        self.runner.state = states
        return actions

    def reset_done(self, mask: np.ndarray) -> None:
        state = self.runner.state
        state[np.asarray(mask, dtype=bool)] = 0.0
        self.runner.state = state


def torch_agent(policy: Any, name: str = "policy (torch)") -> AgentFactory:
    """Factory for a torch policy object (shared across conditions; state is per run)."""
    return lambda envs: TorchPolicyAgent(policy, name)


def torch_bundle_agent(bundle_dir: str | Path, name: str = "policy (torch)") -> AgentFactory:
    """Factory loading a bundle's torch weights once with ``liquidcontrol.export.load_policy``."""
    policy = load_torch_bundle(bundle_dir)
    return torch_agent(policy, name)


def runtime_agent(bundle_dir: str | Path, backend: str = "onnxruntime", name: str | None = None) -> AgentFactory:
    """Factory for a bundle run by the runtime (``backend``: "onnxruntime" or "numpy")."""
    check_bundle(bundle_dir)
    return lambda envs: RuntimeAgent(bundle_dir, backend, name)


def expert_agent(make_expert: Callable[[], Any], name: str = "expert") -> AgentFactory:
    """Factory for a task's scripted expert (``task.make_expert``)."""
    return lambda envs: ExpertAgent(envs, make_expert, name)


def check_bundle(bundle_dir: str | Path) -> dict[str, Any]:
    """Return the bundle's card as a dict, or raise one clear sentence if it is missing or corrupt."""
    import json

    folder = Path(bundle_dir)
    if not folder.is_dir():
        raise LiquidControlError(f"policy bundle folder {folder} does not exist.")
    card = folder / "card.json"
    if not card.is_file():
        raise LiquidControlError(f"{folder} is not a policy bundle: card.json is missing.")
    try:
        data = json.loads(card.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LiquidControlError(f"{card} is corrupt and cannot be read as JSON ({exc}).") from None
    if not isinstance(data, dict):
        raise LiquidControlError(f"{card} is corrupt: expected a JSON object, got {type(data).__name__}.")
    return data


def load_torch_bundle(bundle_dir: str | Path) -> Any:
    """Load a bundle's torch policy, turning any loading failure into a clear error."""
    check_bundle(bundle_dir)
    from liquidcontrol.export import load_policy

    try:
        return load_policy(bundle_dir)
    except LiquidControlError:
        raise
    except Exception as exc:  # noqa: BLE001 - any corrupt weight file must end in one clear sentence
        raise LiquidControlError(f"could not load the torch policy from {bundle_dir}: {exc}.") from None
