"""One list of model kinds: the policies registry, the card, train and the numpy exporter all read it."""

from __future__ import annotations

from liquidcontrol.policies.registry import MODEL_KINDS, is_liquid

from liquidcontrol.export.numpy_kinds import EXTRACTORS
from liquidcontrol.kinds import KIND_NAMES, KINDS
from liquidcontrol.runtime import card


def test_every_list_of_kinds_is_the_one_list():
    assert tuple(MODEL_KINDS) == KIND_NAMES
    assert tuple(card.MODEL_KINDS) == KIND_NAMES
    assert set(EXTRACTORS) == set(KIND_NAMES)


def test_liquid_flag_matches_the_classes():
    for name, info in KINDS.items():
        assert is_liquid(name) == info.liquid
        assert (MODEL_KINDS[name].__name__ in ("CfCPolicy", "LTCPolicy")) == info.liquid
