"""What a bundle's card says about the env: observation layouts and action bounds.

Read from the env itself (its ``observation_layout`` / ``action_layout`` and
its spaces), so the card always matches what the policy was trained on.
"""

from __future__ import annotations

from typing import Any

from liquidcontrol.errors import LiquidControlError


def env_card_fields(env_id: str, env_kwargs: dict[str, Any] | None = None) -> dict[str, Any]:
    """``env_id``, ``observation`` (a layout list for a flat Box, a {key: layout}
    dict for Dict observations) and ``action`` entries with ``low``/``high``
    bounds in env units, from one instance of the env."""
    import gymnasium as gym

    import liquidcontrol.envs  # noqa: F401 - registers the ids

    try:
        env = gym.make(env_id, **(env_kwargs or {}))
    except gym.error.Error as exc:
        raise LiquidControlError(f"unknown env id {env_id!r} ({exc}).") from None
    try:
        base = env.unwrapped
        space, act = env.observation_space, env.action_space
        layout = getattr(base, "observation_layout", None)
        if isinstance(space, gym.spaces.Dict):
            layout = layout if isinstance(layout, dict) else {}
            observation: Any = {k: _copy(layout.get(k)) for k in sorted(space.spaces)}
        else:
            observation = _copy(layout) if isinstance(layout, list) else []
        names = getattr(base, "action_layout", None) or []
        n = int(act.shape[0]) if act.shape else 0
        actions = []
        for i in range(n):
            entry = dict(names[i]) if i < len(names) else {"name": f"action_{i}", "unit": "", "scale": 1.0}
            low, high = float(act.low[i]), float(act.high[i])  # type: ignore[attr-defined]
            entry["low"], entry["high"] = low, high
            actions.append(entry)
    finally:
        env.close()
    return {"env_id": env_id, "observation": observation, "action": actions}


def _copy(layout: Any) -> Any:
    if isinstance(layout, list):
        return [dict(e) for e in layout]
    return layout
