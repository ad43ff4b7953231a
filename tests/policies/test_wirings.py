"""Wirings match ncps 1.0.1 matrix for matrix; bad arguments raise one clear error."""

from __future__ import annotations

import numpy as np
import pytest
from liquidcontrol.policies import wirings as ours

from liquidcontrol.errors import LiquidControlError

nw = pytest.importorskip("ncps.wirings")

CASES = [
    ("AutoNCP", (19, 1), {}, 32),
    ("AutoNCP", (12, 2), {"seed": 3}, 8),
    ("AutoNCP", (12, 2), {"seed": 22222}, 3),
    ("AutoNCP", (30, 4), {"sparsity_level": 0.3, "seed": 7}, 16),
    ("AutoNCP", (34, 4), {"sparsity_level": 0.9, "seed": 1}, 5),
    ("AutoNCP", (8, 3), {"sparsity_level": 0.1, "seed": 11}, 2),
    ("NCP", (10, 10, 8, 6, 6, 4, 6), {"seed": 5}, 20),
    ("NCP", (18, 12, 4, 6, 4, 4, 6), {"seed": 123}, 32),
    ("FullyConnected", (6, 2), {}, 4),
    ("FullyConnected", (5,), {"erev_init_seed": 9, "self_connections": False}, 3),
    ("Random", (8, 3), {"sparsity_level": 0.4, "random_seed": 9}, 7),
    ("Random", (6,), {"sparsity_level": 0.0}, 2),
]


@pytest.mark.parametrize(("name", "args", "kwargs", "inputs"), CASES)
def test_matrices_equal_ncps(name: str, args: tuple, kwargs: dict, inputs: int) -> None:
    ref, mine = getattr(nw, name)(*args, **kwargs), getattr(ours, name)(*args, **kwargs)
    ref.build(inputs)
    mine.build(inputs)
    np.testing.assert_array_equal(mine.adjacency_matrix, ref.adjacency_matrix)
    np.testing.assert_array_equal(mine.sensory_adjacency_matrix, ref.sensory_adjacency_matrix)
    assert mine.output_dim == ref.output_dim
    for layer in range(ref.num_layers):
        assert mine.get_neurons_of_layer(layer) == list(ref.get_neurons_of_layer(layer))


def test_autoncp_19_1_counts() -> None:
    wiring = ours.AutoNCP(19, 1)
    wiring.build(32)
    assert wiring.layer_sizes == [11, 7, 1]
    assert [wiring.get_type_of_neuron(i) for i in (0, 1, 8)] == ["motor", "command", "inter"]


def test_rebuild_same_width_is_noop_and_other_width_fails() -> None:
    wiring = ours.AutoNCP(12, 2)
    wiring.build(8)
    before = wiring.sensory_adjacency_matrix.copy()
    wiring.build(8)
    np.testing.assert_array_equal(wiring.sensory_adjacency_matrix, before)
    with pytest.raises(LiquidControlError, match="built for 8 inputs"):
        wiring.build(9)


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda: ours.AutoNCP(12, 12), "output_size"),
        (lambda: ours.AutoNCP(12, 10), "output_size"),
        (lambda: ours.AutoNCP(12, 2, sparsity_level=0.95), "sparsity_level"),
        (lambda: ours.AutoNCP(12, 2, sparsity_level=0.05), "sparsity_level"),
        (lambda: ours.NCP(4, 3, 2, 5, 2, 1, 2), "sensory_fanout"),
        (lambda: ours.NCP(4, 3, 2, 2, 4, 1, 2), "inter_fanout"),
        (lambda: ours.NCP(4, 3, 2, 2, 2, 1, 4), "motor_fanin"),
        (lambda: ours.NCP(0, 3, 2, 1, 2, 1, 2), "inter_neurons"),
        (lambda: ours.FullyConnected(4, 5), "output_dim"),
        (lambda: ours.Random(4, sparsity_level=1.0), "sparsity_level"),
        (lambda: ours.make_wiring("star", 4, 1), "unknown wiring"),
    ],
)
def test_bad_arguments_raise(factory, message: str) -> None:
    with pytest.raises(LiquidControlError, match=message):
        factory()
