"""Wirings: which neuron talks to which, as signed adjacency matrices.

A wiring with ``units`` neurons and ``input_dim`` sensory inputs holds

- ``adjacency_matrix`` ``[units, units]`` int32, entry ``[src, dest]`` in
  ``{-1, 0, +1}`` (polarity of the synapse, 0 = no synapse);
- ``sensory_adjacency_matrix`` ``[input_dim, units]`` int32, same meaning,
  available after :meth:`Wiring.build` (called by the models with the input
  width).

Neuron ids put the motor (output) neurons first: neurons ``0 .. output_dim-1``
are the outputs. Layered wirings (:class:`NCP`) report their layers through
:meth:`Wiring.get_neurons_of_layer` (inter = layer 0, command = 1, motor = 2).

For the same arguments and seed, every class here produces exactly the
matrices of the reference package ``ncps`` 1.0.1 (its random number calls are
reproduced in the same order), so wiring seeds in published work and in our
policy cards mean the same circuit. Unlike ``ncps``, inconsistent arguments
raise :class:`~liquidcontrol.errors.LiquidControlError`, and building an
already built wiring with the same width is a no-op (models may share one).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from liquidcontrol.errors import LiquidControlError

# ncps draws polarities from these lists; [-1, 1, 1] makes 2/3 excitatory.
_SIGNS = [-1, 1]
_SIGNS_EXCITATORY_BIASED = [-1, 1, 1]


class Wiring:
    """Base wiring: ``units`` neurons, no synapses until a subclass adds them."""

    def __init__(self, units: int) -> None:
        if int(units) < 1:
            raise LiquidControlError(f"a wiring needs at least 1 neuron, got units={units}.")
        self.units = int(units)
        self.adjacency_matrix = np.zeros([self.units, self.units], dtype=np.int32)
        self.sensory_adjacency_matrix: np.ndarray | None = None
        self.input_dim: int | None = None
        self.output_dim: int | None = None

    # -- structure ---------------------------------------------------------
    @property
    def num_layers(self) -> int:
        return 1

    def get_neurons_of_layer(self, layer_id: int) -> list[int]:
        """Neuron ids of layer ``layer_id`` (one layer holding everything here)."""
        if layer_id != 0:
            raise LiquidControlError(f"layer {layer_id} does not exist; this wiring has 1 layer.")
        return list(range(self.units))

    @property
    def layer_sizes(self) -> list[int]:
        return [len(self.get_neurons_of_layer(i)) for i in range(self.num_layers)]

    def get_type_of_neuron(self, neuron_id: int) -> str:
        return "motor" if neuron_id < (self.output_dim or 0) else "inter"

    @property
    def synapse_count(self) -> int:
        return int(np.abs(self.adjacency_matrix).sum())

    @property
    def sensory_synapse_count(self) -> int:
        if self.sensory_adjacency_matrix is None:
            return 0
        return int(np.abs(self.sensory_adjacency_matrix).sum())

    # -- building ------------------------------------------------------------
    def is_built(self) -> bool:
        return self.input_dim is not None

    def build(self, input_dim: int) -> None:
        """Create the sensory synapses for ``input_dim`` inputs (once)."""
        if self.input_dim is not None:
            if self.input_dim != int(input_dim):
                raise LiquidControlError(
                    f"this wiring was built for {self.input_dim} inputs but is now used with "
                    f"{input_dim}; create a new wiring for the new input width."
                )
            return
        if int(input_dim) < 1:
            raise LiquidControlError(f"input_dim must be at least 1, got {input_dim}.")
        self.input_dim = int(input_dim)
        self.sensory_adjacency_matrix = np.zeros([self.input_dim, self.units], dtype=np.int32)
        self._build_sensory()

    def _build_sensory(self) -> None:
        """Subclasses add their sensory synapses here."""

    def add_synapse(self, src: int, dest: int, polarity: int) -> None:
        self.adjacency_matrix[src, dest] = polarity

    def add_sensory_synapse(self, src: int, dest: int, polarity: int) -> None:
        assert self.sensory_adjacency_matrix is not None
        self.sensory_adjacency_matrix[src, dest] = polarity

    # -- serialisation ----------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """JSON-serialisable description: the class name, arguments and matrices."""
        sensory = self.sensory_adjacency_matrix
        return {
            "class": type(self).__name__,
            "units": self.units,
            "output_dim": self.output_dim,
            "input_dim": self.input_dim,
            "adjacency_matrix": self.adjacency_matrix.tolist(),
            "sensory_adjacency_matrix": None if sensory is None else sensory.tolist(),
        }

    @classmethod
    def from_matrices(
        cls, adjacency: np.ndarray, sensory_adjacency: np.ndarray, output_dim: int
    ) -> Wiring:
        """A single-layer wiring with the given matrices (e.g. read from a card)."""
        adjacency = np.asarray(adjacency, dtype=np.int32)
        sensory_adjacency = np.asarray(sensory_adjacency, dtype=np.int32)
        wiring = Wiring(adjacency.shape[0])
        wiring.adjacency_matrix = adjacency.copy()
        wiring.input_dim = int(sensory_adjacency.shape[0])
        wiring.sensory_adjacency_matrix = sensory_adjacency.copy()
        wiring.output_dim = int(output_dim)
        return wiring


def _check_output_dim(units: int, output_dim: int | None) -> int:
    out = units if output_dim is None else int(output_dim)
    if not 1 <= out <= units:
        raise LiquidControlError(f"output_dim must be between 1 and units={units}, got {output_dim}.")
    return out


class FullyConnected(Wiring):
    """Every neuron and every input connects to every neuron (random polarity)."""

    def __init__(
        self,
        units: int,
        output_dim: int | None = None,
        erev_init_seed: int = 1111,
        self_connections: bool = True,
    ) -> None:
        super().__init__(units)
        self.output_dim = _check_output_dim(self.units, output_dim)
        self.self_connections = bool(self_connections)
        self.erev_init_seed = int(erev_init_seed)
        self._rng = np.random.default_rng(self.erev_init_seed)
        for src in range(self.units):
            for dest in range(self.units):
                if src != dest or self.self_connections:
                    self.add_synapse(src, dest, self._rng.choice(_SIGNS_EXCITATORY_BIASED))

    def _build_sensory(self) -> None:
        for src in range(self.input_dim or 0):
            for dest in range(self.units):
                self.add_sensory_synapse(src, dest, self._rng.choice(_SIGNS_EXCITATORY_BIASED))


class Random(Wiring):
    """A random fraction ``1 - sparsity_level`` of all possible synapses."""

    def __init__(
        self,
        units: int,
        output_dim: int | None = None,
        sparsity_level: float = 0.0,
        random_seed: int = 1111,
    ) -> None:
        super().__init__(units)
        self.output_dim = _check_output_dim(self.units, output_dim)
        if not 0.0 <= sparsity_level < 1.0:
            raise LiquidControlError(f"sparsity_level must be in [0, 1), got {sparsity_level}.")
        self.sparsity_level = float(sparsity_level)
        self.random_seed = int(random_seed)
        self._rng = np.random.default_rng(self.random_seed)
        for src, dest in self._pick_pairs(self.units):
            self.add_synapse(src, dest, self._rng.choice(_SIGNS_EXCITATORY_BIASED))

    def _pick_pairs(self, sources: int) -> np.ndarray:
        count = int(np.round(sources * self.units * (1.0 - self.sparsity_level)))
        pairs = [(src, dest) for src in range(sources) for dest in range(self.units)]
        return self._rng.choice(pairs, size=count, replace=False)

    def _build_sensory(self) -> None:
        for src, dest in self._pick_pairs(self.input_dim or 0):
            # ncps draws the polarity twice and keeps the second: keep its RNG stream.
            self._rng.choice(_SIGNS_EXCITATORY_BIASED)
            self.add_sensory_synapse(src, dest, self._rng.choice(_SIGNS_EXCITATORY_BIASED))


class NCP(Wiring):
    """Neural Circuit Policy: sensory -> inter -> command (recurrent) -> motor.

    Neuron ids: ``[motor | command | inter]``. Fan-outs / fan-ins are exact
    per source (sensory, inter) or per motor neuron; neurons left without an
    incoming (or, for command neurons, outgoing) synapse get extra ones.
    """

    def __init__(
        self,
        inter_neurons: int,
        command_neurons: int,
        motor_neurons: int,
        sensory_fanout: int,
        inter_fanout: int,
        recurrent_command_synapses: int,
        motor_fanin: int,
        seed: int = 22222,
    ) -> None:
        counts = {"inter_neurons": inter_neurons, "command_neurons": command_neurons,
                  "motor_neurons": motor_neurons}
        for name, value in counts.items():
            if int(value) < 1:
                raise LiquidControlError(f"{name} must be at least 1, got {value}.")
        super().__init__(inter_neurons + command_neurons + motor_neurons)
        self.output_dim = int(motor_neurons)
        self.num_inter, self.num_command = int(inter_neurons), int(command_neurons)
        self.num_motor = int(motor_neurons)
        self.sensory_fanout, self.inter_fanout = int(sensory_fanout), int(inter_fanout)
        self.recurrent_command_synapses = int(recurrent_command_synapses)
        self.motor_fanin, self.seed = int(motor_fanin), int(seed)
        _check_fan("sensory_fanout", self.sensory_fanout, "inter", self.num_inter)
        _check_fan("inter_fanout", self.inter_fanout, "command", self.num_command)
        _check_fan("motor_fanin", self.motor_fanin, "command", self.num_command)
        if self.recurrent_command_synapses < 0:
            raise LiquidControlError(
                f"recurrent_command_synapses must be >= 0, got {recurrent_command_synapses}.")
        self._rng = np.random.RandomState(self.seed)
        self.motor_ids = list(range(self.num_motor))
        self.command_ids = list(range(self.num_motor, self.num_motor + self.num_command))
        self.inter_ids = list(range(self.num_motor + self.num_command, self.units))

    @property
    def num_layers(self) -> int:
        return 3

    def get_neurons_of_layer(self, layer_id: int) -> list[int]:
        layers = [self.inter_ids, self.command_ids, self.motor_ids]
        if not 0 <= layer_id < 3:
            raise LiquidControlError(f"layer {layer_id} does not exist; an NCP has layers 0, 1, 2.")
        return list(layers[layer_id])

    def get_type_of_neuron(self, neuron_id: int) -> str:
        if neuron_id < self.num_motor:
            return "motor"
        return "command" if neuron_id < self.num_motor + self.num_command else "inter"

    def _build_sensory(self) -> None:
        # ncps creates every synapse when the input width is known, in this order.
        sensory_ids = list(range(self.input_dim or 0))
        self._connect(sensory_ids, self.inter_ids, self.sensory_fanout, self.add_sensory_synapse)
        self._connect(self.inter_ids, self.command_ids, self.inter_fanout, self.add_synapse)
        for _ in range(self.recurrent_command_synapses):
            src = self._rng.choice(self.command_ids)
            dest = self._rng.choice(self.command_ids)
            self.add_synapse(src, dest, self._rng.choice(_SIGNS))
        self._connect_motor()

    def _connect(self, sources: list[int], dests: list[int], fanout: int, add: Any) -> None:
        """Each source reaches ``fanout`` random dests; unreached dests get
        ``clip(len(sources) * fanout / len(dests), 1, ...)`` random sources."""
        unreached = list(dests)
        for src in sources:
            for dest in self._rng.choice(dests, size=fanout, replace=False):
                if dest in unreached:
                    unreached.remove(dest)
                add(src, dest, self._rng.choice(_SIGNS))
        # ncps clips this fan-in by the size of the *destination* layer.
        fanin = int(np.clip(int(len(sources) * fanout / len(dests)), 1, len(dests)))
        for dest in unreached:
            for src in self._rng.choice(sources, size=fanin, replace=False):
                add(src, dest, self._rng.choice(_SIGNS))

    def _connect_motor(self) -> None:
        unreached = list(self.command_ids)
        for dest in self.motor_ids:
            for src in self._rng.choice(self.command_ids, size=self.motor_fanin, replace=False):
                if src in unreached:
                    unreached.remove(src)
                self.add_synapse(src, dest, self._rng.choice(_SIGNS))
        fanout = int(np.clip(int(self.num_motor * self.motor_fanin / self.num_command), 1,
                             self.num_motor))
        for src in unreached:
            for dest in self._rng.choice(self.motor_ids, size=fanout, replace=False):
                self.add_synapse(src, dest, self._rng.choice(_SIGNS))


def _check_fan(name: str, value: int, layer: str, size: int) -> None:
    if not 1 <= value <= size:
        raise LiquidControlError(
            f"{name} must be between 1 and the {size} {layer} neurons, got {value}.")


class AutoNCP(NCP):
    """An :class:`NCP` sized from the total neuron count and the output count.

    ``command = max(int(0.4 * (units - output_size)), 1)``, inter = the rest;
    fan-outs are ``max(int(layer * (1 - sparsity_level)), 1)`` and there are
    ``max(int(2 * command * (1 - sparsity_level)), 1)`` recurrent command synapses.
    """

    def __init__(
        self, units: int, output_size: int, sparsity_level: float = 0.5, seed: int = 22222
    ) -> None:
        if not 1 <= output_size < units - 2:
            raise LiquidControlError(
                f"AutoNCP needs 1 <= output_size < units - 2, got output_size={output_size} "
                f"with units={units}.")
        if not 0.1 <= sparsity_level <= 0.9:
            raise LiquidControlError(f"sparsity_level must be in [0.1, 0.9], got {sparsity_level}.")
        self.output_size, self.sparsity_level = int(output_size), float(sparsity_level)
        density = 1.0 - sparsity_level
        command = max(int(0.4 * (units - output_size)), 1)
        inter = units - output_size - command
        super().__init__(
            inter, command, output_size,
            sensory_fanout=max(int(inter * density), 1),
            inter_fanout=max(int(command * density), 1),
            recurrent_command_synapses=max(int(command * density * 2), 1),
            motor_fanin=max(int(command * density), 1),
            seed=seed,
        )


def make_wiring(name: str, units: int, output_dim: int, sparsity: float = 0.5,
                seed: int = 22222) -> Wiring:
    """Wiring by name: ``"autoncp"`` (AutoNCP) or ``"fc"`` (FullyConnected)."""
    if name == "autoncp":
        return AutoNCP(units, output_dim, sparsity_level=sparsity, seed=seed)
    if name == "fc":
        return FullyConnected(units, output_dim, erev_init_seed=seed)
    raise LiquidControlError(f"unknown wiring {name!r}; expected 'autoncp' or 'fc'.")
