"""Policies: liquid cells (CfC, LTC), wirings, baselines, and the model-kind registry.

Import as ``liquidcontrol.policies`` (never ``policies``). This package needs
torch; the deploy runtime (``liquidcontrol.runtime``) does not import it.

- :mod:`.base` — :class:`RecurrentPolicy`, the interface every kind follows.
- :mod:`.wirings` — ``Wiring``, ``FullyConnected``, ``Random``, ``NCP``, ``AutoNCP``.
- :mod:`.cfc` — ``CfC`` sequence model and its cells; :mod:`.ltc` — ``LTC``.
- :mod:`.liquid` — ``CfCPolicy``, ``LTCPolicy``; :mod:`.baselines` — ``LSTMPolicy``,
  ``GRUPolicy``, ``MLPPolicy``.
- :mod:`.registry` — ``MODEL_KINDS``, ``make_policy``, ``policy_from_config``.
- :mod:`.ncps_convert` — load ``ncps`` 1.0.1 weights into our models.
"""

from .base import RecurrentPolicy
from .baselines import GRUPolicy, LSTMPolicy, MLPPolicy
from .cfc import CfC
from .liquid import CfCPolicy, LTCPolicy
from .ltc import LTC
from .registry import MODEL_KINDS, make_policy, policy_class, policy_from_config
from .wirings import NCP, AutoNCP, FullyConnected, Random, Wiring

__all__ = [
    "MODEL_KINDS",
    "NCP",
    "LTC",
    "AutoNCP",
    "CfC",
    "CfCPolicy",
    "FullyConnected",
    "GRUPolicy",
    "LSTMPolicy",
    "LTCPolicy",
    "MLPPolicy",
    "Random",
    "RecurrentPolicy",
    "Wiring",
    "make_policy",
    "policy_class",
    "policy_from_config",
]
