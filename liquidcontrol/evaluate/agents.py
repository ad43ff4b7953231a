"""Agents: anything that turns a batch of observations into a batch of actions.

The rollout loop drives N envs in lockstep and talks to one :class:`Agent`:

- ``reset(n_envs)`` before the first step,
- ``act(obs [N, obs_dim], dt [N, 1] seconds) -> actions [N, act_dim]``,
- ``reset_done(mask [N] bool)`` when the flagged envs start a new episode
  (recurrent state back to zeros for those rows only).

Agents are built by a factory ``factory(envs) -> Agent`` because the expert
needs the envs themselves (it re-plans from the true car state); policies
ignore them. Adapters: :func:`torch_agent`, :func:`runtime_agent`,
:func:`expert_agent`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np

from liquidcontrol.errors import LiquidControlError


@runtime_checkable
class Agent(Protocol):
    """What the rollout loop needs from a controller (see the module docstring)."""

    name: str

    def reset(self, n_envs: int) -> None: ...

    def act(self, obs: np.ndarray, dt: np.ndarray) -> np.ndarray: ...

    def reset_done(self, mask: np.ndarray) -> None: ...


AgentFactory = Callable[[Sequence[gym.Env]], Agent]


class TorchPolicyAgent:
    """A torch :class:`~liquidcontrol.policies.base.RecurrentPolicy`, batched, no gradients."""

    def __init__(self, policy: Any, name: str = "policy (torch)") -> None:
        self.policy = policy.eval()
        self.name = name
        self.state: Any = None

    def reset(self, n_envs: int) -> None:
        self.state = self.policy.initial_state(n_envs)

    def act(self, obs: np.ndarray, dt: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            obs_t = torch.as_tensor(np.asarray(obs, dtype=np.float32))
            dt_t = torch.as_tensor(np.asarray(dt, dtype=np.float32).reshape(-1, 1))
            action, self.state = self.policy(obs_t, self.state, dt_t)
        return action.numpy().astype(np.float32)

    def reset_done(self, mask: np.ndarray) -> None:
        import torch

        keep = torch.as_tensor(1.0 - np.asarray(mask, dtype=np.float32)).reshape(-1, 1)
        self.state = self.state * keep  # the (1 - done) * h reset used in training


class RuntimeAgent:
    """A policy bundle run by :class:`liquidcontrol.runtime.PolicyRunner` (no torch)."""

    def __init__(self, bundle_dir: str | Path, backend: str = "onnxruntime", name: str | None = None) -> None:
        from liquidcontrol.runtime.runner import PolicyRunner

        self.runner = PolicyRunner(bundle_dir, backend=backend)
        self.name = name or f"policy ({backend})"
        self.state_dim = int(self.runner.card.state_dim)

    def reset(self, n_envs: int) -> None:
        self.runner.reset()
        self.runner.state = np.zeros((n_envs, self.state_dim), dtype=np.float32)

    def act(self, obs: np.ndarray, dt: np.ndarray) -> np.ndarray:
        batch = np.asarray(obs, dtype=np.float32)
        return np.asarray(self.runner.step(batch, np.asarray(dt, np.float32).reshape(-1, 1)), dtype=np.float32)

    def reset_done(self, mask: np.ndarray) -> None:
        state = self.runner.state
        state[np.asarray(mask, dtype=bool)] = 0.0
        self.runner.state = state


class ExpertAgent:
    """The scripted expert, one instance per env; it reads the true state of each env."""

    def __init__(self, envs: Sequence[gym.Env], make_expert: Callable[[], Any], name: str = "expert") -> None:
        self.envs = list(envs)
        self.experts = [make_expert() for _ in self.envs]
        self.name = name

    def reset(self, n_envs: int) -> None:
        if n_envs != len(self.envs):
            raise LiquidControlError(f"the expert agent was built for {len(self.envs)} envs, not {n_envs}.")
        for expert in self.experts:
            expert.reset()

    def act(self, obs: np.ndarray, dt: np.ndarray) -> np.ndarray:
        del obs, dt  # privileged: the expert plans from the simulator state, not the (perturbed) sensors
        return np.stack([np.asarray(ex.act(env.unwrapped), np.float32) for ex, env in zip(self.experts, self.envs)])

    def reset_done(self, mask: np.ndarray) -> None:
        for i in np.flatnonzero(mask):
            self.experts[i].reset()


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


def expert_agent(make_expert: Callable[[], Any] | None = None, name: str = "expert") -> AgentFactory:
    """Factory for the scripted expert (default: the parking ``ParallelParkingExpert``)."""
    if make_expert is None:
        from liquidcontrol.envs.parking_expert import ParallelParkingExpert

        make_expert = ParallelParkingExpert
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
    try:
        from liquidcontrol.export import load_policy
    except ImportError:  # until the export package re-exports it
        from liquidcontrol.export.bundle import load_policy

    try:
        return load_policy(bundle_dir)
    except LiquidControlError:
        raise
    except Exception as exc:  # noqa: BLE001 - any corrupt weight file must end in one clear sentence
        raise LiquidControlError(f"could not load the torch policy from {bundle_dir}: {exc}.") from None
