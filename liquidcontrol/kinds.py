"""The one list of model kinds (standard library only, so the robot-side runtime can read it).

``policies.registry`` maps each name to its torch class, the card validates
``model.kind`` against it, the numpy exporter and backend cover every kind
(a test checks each of these lists equals this one).

======== ======= ========= =====================================
kind     liquid  wiring    what it is
======== ======= ========= =====================================
cfc-ncp  yes     autoncp   CfC cells on an AutoNCP wiring
cfc      yes     fc        fully connected CfC (with backbone)
ltc-ncp  yes     autoncp   LTC cells on an AutoNCP wiring
ltc      yes     fc        fully connected LTC
lstm     no      -         LSTM baseline
gru      no      -         GRU baseline
mlp      no      -         feed-forward baseline (frame stack)
======== ======= ========= =====================================
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KindInfo:
    name: str
    liquid: bool
    wiring: str | None  # "autoncp" or "fc" for liquid kinds
    summary: str


KINDS: dict[str, KindInfo] = {k.name: k for k in (
    KindInfo("cfc-ncp", True, "autoncp", "CfC cells on an AutoNCP wiring"),
    KindInfo("cfc", True, "fc", "fully connected CfC (with backbone)"),
    KindInfo("ltc-ncp", True, "autoncp", "LTC cells on an AutoNCP wiring"),
    KindInfo("ltc", True, "fc", "fully connected LTC"),
    KindInfo("lstm", False, None, "LSTM baseline"),
    KindInfo("gru", False, None, "GRU baseline"),
    KindInfo("mlp", False, None, "feed-forward baseline (frame stack)"),
)}
KIND_NAMES: tuple[str, ...] = tuple(KINDS)
