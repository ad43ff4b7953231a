"""The closed-loop ONNX check: does the file that ships behave like the torch policy?

Two measurements on held-out seeds, both needed to pass:

1. **Outcomes per seed.** The torch policy and the shipped ``policy.onnx``
   (through :class:`liquidcontrol.runtime.PolicyRunner`) each drive the same
   seeds on their own; the share of seeds where both succeed or both fail
   must be at least ``min_agreement`` (98 %).
2. **Actions on the same observations.** The torch policy drives; the ONNX
   runner is fed exactly the observations torch saw (and the same resets), and
   the largest |Δaction| over every step must stay within ``action_tolerance``.

When only the outcomes fail and the actions match at the float32 level, the
check also runs torch against itself with rounding-sized action noise
(``torch_jitter_agreement``). A policy whose success on some seeds hinges on
1e-6 of an action disagrees with itself there too, which tells a marginal
policy from a wrong file. The verdict stays "failed".

The second part is what makes this a check: two broken policies that both
always fail would agree on every outcome, but not on their actions.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.evaluate.agents import RuntimeAgent
from liquidcontrol.evaluate.sweep import make_env
from liquidcontrol.rollout import EpisodeRecord, TorchPolicyAgent, run_episodes

MIN_AGREEMENT = 0.98
ACTION_TOLERANCE = 1e-4  # action units; torch vs onnxruntime float32 differ by ~1e-6
#: Largest |torch fp32 - ONNX| action allowed per precision of policy.onnx (action units), over the
#: closed loop where the ONNX runner keeps its own recurrent state, so rounding errors accumulate.
#: Measured on the five shipped bundles, 200 held-out episodes each: fp16 up to 0.14 (drone motors),
#: int8 up to 0.80 (parking in rain); the tolerances leave about 1.8x / 1.25x margin. For int8 the
#: action bound only catches gross breakage: its real gate is the outcome agreement.
PRECISION_TOLERANCE = {"fp32": ACTION_TOLERANCE, "fp16": 0.25, "int8": 1.0}


#: Action noise (uniform, ± this, action units) of the torch-against-itself baseline: the order of
#: torch vs onnxruntime float32 rounding differences.
JITTER = 1e-6


class _JitterAgent(TorchPolicyAgent):
    """The torch policy with ± ``JITTER`` of seeded uniform noise on every action."""

    def __init__(self, policy: Any, seed: int = 0) -> None:
        super().__init__(policy, "torch with rounding-sized action noise")
        self.rng = np.random.default_rng(seed)

    def act(self, obs: Any, dt: np.ndarray, active: np.ndarray | None = None) -> np.ndarray:
        a = super().act(obs, dt, active)
        return a + self.rng.uniform(-JITTER, JITTER, a.shape).astype(np.float32)


class _ShadowAgent:
    """Drives with torch and runs the ONNX runner on the same inputs alongside."""

    def __init__(self, policy: Any, bundle: str | Path) -> None:
        self.torch = TorchPolicyAgent(policy)
        self.onnx = RuntimeAgent(bundle, "onnxruntime")
        self.name = "torch with ONNX shadow"
        self.max_delta = 0.0
        self.steps = 0

    def reset(self, n_envs: int) -> None:
        self.torch.reset(n_envs)
        self.onnx.reset(n_envs)

    def act(self, obs: Any, dt: np.ndarray, active: np.ndarray) -> np.ndarray:
        a = self.torch.act(obs, dt, active)
        try:
            b = self.onnx.act(obs, dt, active)
        except LiquidControlError:
            b = np.full_like(a, np.inf)  # a runner that refuses to step is as wrong as it gets
        rows = np.flatnonzero(active)
        if rows.size:
            delta = float(np.max(np.abs(a[rows] - b[rows])))
            self.max_delta = max(self.max_delta, delta if np.isfinite(delta) else float("inf"))
            self.steps += int(rows.size)
        return a

    def reset_done(self, mask: np.ndarray) -> None:
        self.torch.reset_done(mask)
        self.onnx.reset_done(mask)


def max_action_delta(policy: Any, bundle: str | Path, env_id: str, seeds: Sequence[int], n_envs: int = 8,
                     env_kwargs: dict[str, Any] | None = None, max_steps: int | None = None) -> tuple[float, int]:
    """Largest |torch - ONNX| action over the torch policy's closed loop on ``seeds``, and the steps compared."""
    width = max(1, min(n_envs, len(seeds)))
    envs: list[gym.Env] = [make_env(env_id, (), 0, **(env_kwargs or {})) for _ in range(width)]
    agent = _ShadowAgent(policy, bundle)
    try:
        run_episodes(envs, agent, list(seeds), max_steps=max_steps)
    finally:
        for env in envs:
            env.close()
    return agent.max_delta, agent.steps


def outcome_agreement(a: Sequence[EpisodeRecord], b: Sequence[EpisodeRecord]) -> float:
    """Share of seeds on which both runs succeeded or both failed."""
    by_seed = {r.seed: r.success for r in b}
    if not a or {r.seed for r in a} != set(by_seed):
        raise LiquidControlError("the two evaluations to compare must cover the same seeds.")
    return float(np.mean([r.success == by_seed[r.seed] for r in a]))


def onnx_check(torch_episodes: Sequence[EpisodeRecord], onnx_episodes: Sequence[EpisodeRecord],
               max_delta: float, steps_compared: int, min_agreement: float = MIN_AGREEMENT,
               action_tolerance: float = ACTION_TOLERANCE) -> dict[str, Any]:
    """The check's verdict and its numbers (JSON-ready)."""
    agreement = outcome_agreement(torch_episodes, onnx_episodes)
    torch_rate = float(np.mean([r.success for r in torch_episodes]))
    onnx_rate = float(np.mean([r.success for r in onnx_episodes]))
    passed = agreement >= min_agreement and max_delta <= action_tolerance and steps_compared > 0
    return {
        "torch_success": torch_rate, "onnx_success": onnx_rate, "gap": abs(torch_rate - onnx_rate),
        "seed_agreement": agreement, "min_agreement": min_agreement, "episodes": len(torch_episodes),
        "max_abs_action_delta": max_delta if np.isfinite(max_delta) else None,
        "action_tolerance": action_tolerance, "steps_compared": steps_compared, "passed": bool(passed),
    }


def needs_jitter_baseline(check: dict[str, Any]) -> bool:
    """A failed check whose actions match at the float32 level: only the outcomes differ, so the
    baseline can tell a marginal policy from a wrong file (for fp16/int8 differences it cannot)."""
    delta = check["max_abs_action_delta"]
    return (not check["passed"] and check["steps_compared"] > 0 and delta is not None
            and delta <= ACTION_TOLERANCE)


def add_jitter_baseline(check: dict[str, Any], policy: Any, torch_episodes: Sequence[EpisodeRecord],
                        run_clean: Any) -> dict[str, Any]:
    """Add ``torch_jitter_agreement`` to a check that needs it (:func:`needs_jitter_baseline`).
    ``run_clean(agent_factory)`` must return the episodes of the same clean seeds as ``torch_episodes``."""
    if needs_jitter_baseline(check):
        jittered = run_clean(lambda envs: _JitterAgent(policy))
        check["torch_jitter_agreement"] = outcome_agreement(torch_episodes, jittered)
    return check


def failure_reason(check: dict[str, Any]) -> str:
    """Why a failed check failed, as a clause for an error sentence. The policy is called marginal
    only when torch against itself under rounding-sized noise (``torch_jitter_agreement``) fails
    the same agreement bar; otherwise the outcome differences are the file's."""
    delta, tolerance = check["max_abs_action_delta"], check["action_tolerance"]
    if check["steps_compared"] == 0:
        return "no steps were compared"
    if delta is None or delta > tolerance:
        shown = "a non-finite amount" if delta is None else f"{delta:.2g}"
        return (f"its actions differ from torch's on the same observations by {shown}, more than the "
                f"allowed {tolerance:g}, so the exported file does not compute the policy")
    flipped = round((1.0 - check["seed_agreement"]) * check["episodes"])
    outcomes = (f"its actions stay within {tolerance:g} of torch's on the same observations (largest "
                f"difference {delta:.2g}), but the outcome differs on {flipped} of {check['episodes']} seeds "
                f"(agreement {check['seed_agreement']:.3f}, needed {check['min_agreement']})")
    jitter = check.get("torch_jitter_agreement")
    if jitter is None:
        return outcomes
    against_itself = f"torch against itself with ±{JITTER:g} of action noise agrees on {jitter:.3f}"
    if jitter < check["min_agreement"]:
        return (f"{outcomes}, and {against_itself}: on those seeds the policy succeeds or fails by "
                "rounding-level differences, so it is marginal there, not mis-exported")
    return f"{outcomes}, while {against_itself}, so the differences come from the exported file"


def check_bundle(policy: Any, bundle: str | Path, task: Any, episodes: int, n_envs: int = 8,
                 min_agreement: float = MIN_AGREEMENT, action_tolerance: float | None = None,
                 progress: bool = False) -> dict[str, Any]:
    """The ONNX check of ``bundle`` against the float32 torch ``policy`` on ``episodes`` held-out
    seeds of ``task``; the action tolerance defaults to the one of the bundle's ONNX precision."""
    from liquidcontrol.evaluate.agents import runtime_agent, torch_agent
    from liquidcontrol.evaluate.sweep import CLEAN, evaluate
    from liquidcontrol.runtime.card import load_card
    from liquidcontrol.seeds import evaluation_seeds

    precision = load_card(bundle).onnx_precision
    tolerance = PRECISION_TOLERANCE[precision] if action_tolerance is None else action_tolerance
    common = dict(n_episodes=episodes, seed=0, n_envs=n_envs, progress=progress, env_kwargs=task.env_kwargs)
    runs = [evaluate(agent, task.env_id, [CLEAN], **common).conditions[0].episodes  # type: ignore[arg-type]
            for agent in (torch_agent(policy), runtime_agent(bundle))]
    delta, steps = max_action_delta(policy, bundle, task.env_id, evaluation_seeds(episodes), n_envs=n_envs,
                                    env_kwargs=task.env_kwargs)
    check = {"precision": precision, **onnx_check(runs[0], runs[1], delta, steps, min_agreement, tolerance)}
    return add_jitter_baseline(check, policy, runs[0], lambda agent: evaluate(
        agent, task.env_id, [CLEAN], **common).conditions[0].episodes)  # type: ignore[arg-type]
