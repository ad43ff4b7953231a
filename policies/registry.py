"""Model kinds by name, as stable-baselines3 maps policy aliases to classes.

``make_policy("cfc-ncp", obs_dim=3, act_dim=2, units=12)`` builds a policy;
``policy_from_config(kind, policy.config())`` rebuilds the same architecture
(the card stores ``kind`` and ``config``). The baselines also accept
``budget=N`` (trainable parameters) instead of ``hidden``.

======== ============== =========================================
kind     class          defaults added by the kind
======== ============== =========================================
cfc-ncp  CfCPolicy      ``wiring="autoncp"``
cfc      CfCPolicy      ``wiring="fc"``
ltc-ncp  LTCPolicy      ``wiring="autoncp"``
ltc      LTCPolicy      ``wiring="fc"``
lstm     LSTMPolicy
gru      GRUPolicy
mlp      MLPPolicy
======== ============== =========================================
"""

from __future__ import annotations

import inspect
from typing import Any

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.kinds import KIND_NAMES, KINDS

from .base import RecurrentPolicy
from .baselines import GRUPolicy, LSTMPolicy, MLPPolicy
from .liquid import CfCPolicy, LTCPolicy

MODEL_KINDS: dict[str, type[RecurrentPolicy]] = {
    "cfc-ncp": CfCPolicy,
    "cfc": CfCPolicy,
    "ltc-ncp": LTCPolicy,
    "ltc": LTCPolicy,
    "lstm": LSTMPolicy,
    "gru": GRUPolicy,
    "mlp": MLPPolicy,
}
_KIND_WIRING = {name: info.wiring for name, info in KINDS.items() if info.wiring is not None}
assert tuple(MODEL_KINDS) == KIND_NAMES, "policies.registry and liquidcontrol.kinds list different kinds"


def is_liquid(kind: str) -> bool:
    """True for the liquid (CfC / LTC) kinds, sized by ``units`` neurons."""
    policy_class(kind)  # unknown kinds get the registry's error
    return KINDS[kind].liquid


def policy_class(kind: str) -> type[RecurrentPolicy]:
    if kind not in MODEL_KINDS:
        raise LiquidControlError(f"unknown model kind {kind!r}; expected one of {sorted(MODEL_KINDS)}.")
    return MODEL_KINDS[kind]


def make_policy(kind: str, obs_dim: int, act_dim: int, **kwargs: Any) -> RecurrentPolicy:
    """Build a policy of ``kind`` for ``obs_dim`` inputs and ``act_dim`` actions.

    ``obs_spec=[{key, dtype, shape}, ...]`` builds a Dict-observation policy:
    one encoder per key (``policies.encoders``) feeds the cell, and
    ``obs_dim`` is ignored (the encoders' feature width is used). With
    ``budget=``, the encoders' trainable parameters count towards it: a
    baseline behind the same conv head gets the rest for its core, so the
    whole model matches the budget.
    """
    obs_spec = kwargs.pop("obs_spec", None)
    if obs_spec is not None:
        from .encoders import DictEncoder

        encoder = DictEncoder(obs_spec)
        if kwargs.get("budget") is not None:
            encoder_params = sum(p.numel() for p in encoder.parameters() if p.requires_grad)
            core = int(kwargs["budget"]) - encoder_params
            if core <= 0:
                raise LiquidControlError(f"a budget of {kwargs['budget']} trainable parameters does not cover the "
                                         f"observation encoders' {encoder_params}.")
            kwargs["budget"] = core
        policy = make_policy(kind, encoder.out_dim, act_dim, **kwargs)
        policy.attach_encoder(encoder)
        return policy
    cls = policy_class(kind)
    if kind in _KIND_WIRING:
        wiring = kwargs.setdefault("wiring", _KIND_WIRING[kind])
        if wiring != _KIND_WIRING[kind]:
            raise LiquidControlError(
                f"model kind {kind!r} uses wiring {_KIND_WIRING[kind]!r}, got wiring={wiring!r}.")
    budget = kwargs.pop("budget", None)
    _check_kwargs(kind, cls, kwargs, allow_budget=budget is not None)
    if budget is not None:
        if not hasattr(cls, "for_budget"):
            raise LiquidControlError(f"model kind {kind!r} does not support budget=; size it with units=.")
        return cls.for_budget(obs_dim, act_dim, int(budget), **kwargs)
    return cls(obs_dim, act_dim, **kwargs)


def policy_from_config(kind: str, config: dict[str, Any]) -> RecurrentPolicy:
    """Rebuild a policy from ``kind`` and the dict its ``config()`` returned."""
    config = dict(config)
    try:
        obs_dim, act_dim = config.pop("obs_dim"), config.pop("act_dim")
    except KeyError as err:
        raise LiquidControlError(f"policy config lacks {err.args[0]!r}; it needs obs_dim and act_dim.") from None
    return make_policy(kind, obs_dim, act_dim, **config)


def _check_kwargs(kind: str, cls: type[RecurrentPolicy], kwargs: dict[str, Any], allow_budget: bool) -> None:
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self", "obs_dim", "act_dim"}
    if allow_budget:
        accepted.discard("hidden")
    unknown = sorted(set(kwargs) - accepted)
    if unknown:
        raise LiquidControlError(
            f"model kind {kind!r} does not take {unknown}; it accepts {sorted(accepted)}.")
