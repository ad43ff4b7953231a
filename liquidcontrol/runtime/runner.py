"""Run a policy bundle on a robot: numpy + onnxruntime, no torch.

>>> runner = PolicyRunner("bundles/parking-cfc", backend="numpy")
>>> runner.reset()
>>> action = runner.step(obs, dt=measured_seconds)   # obs [obs_dim] -> action [act_dim]

Both backends compute the same single-step graph (inputs ``obs`` [B, obs_dim],
``state`` [B, state_dim], ``dt`` [B, 1] seconds; outputs ``action``
[B, act_dim], ``state_out``); the runner keeps ``state`` between calls.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.runtime.card import DEFAULT_OUTPUTS, ONNX_METADATA_KEY, PolicyCard, load_card

StepFn = Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
BACKENDS = ("onnxruntime", "numpy")


class PolicyRunner:
    """A loaded bundle plus its recurrent state.

    ``backend="onnxruntime"`` runs ``policy.onnx`` in a single-threaded
    session; ``backend="numpy"`` runs ``weights.npz`` with plain numpy (the
    lowest latency for these tiny models). Outputs agree to about 1e-6.
    """

    def __init__(self, bundle_dir: str | Path, backend: str = "onnxruntime") -> None:
        folder = Path(bundle_dir)
        if not folder.is_dir():
            raise LiquidControlError(f"policy bundle folder {folder} does not exist.")
        if backend not in BACKENDS:
            raise LiquidControlError(f"unknown runtime backend {backend!r}; expected one of {', '.join(BACKENDS)}.")
        self.folder = folder
        self.backend = backend
        self.card: PolicyCard = load_card(folder / "card.json")
        if self.card.obs_inputs() != ["obs"] and backend == "numpy":
            raise LiquidControlError("the numpy backend runs vector observations only; use backend='onnxruntime' for this bundle.")
        # _run1: optional single-sample shortcut, obs [obs_dim] -> action [act_dim].
        self._run1: StepFn | None = None
        if backend == "onnxruntime":
            self._run: StepFn = _onnx_step_fn(folder / "policy.onnx", self.card)
        else:
            from liquidcontrol.runtime.numpy_backend import load_numpy_step

            self._run, self._run1 = load_numpy_step(folder / "weights.npz", self.card)
        self._period = np.full((1, 1), self.card.control_period_s, dtype=np.float32)
        self._state: np.ndarray | None = None
        self._ones = np.ones(self.card.obs_dim, dtype=np.float32)
        self._single_shape = (self.card.obs_dim,)

    # -- state ------------------------------------------------------------
    @property
    def state(self) -> np.ndarray:
        """Copy of the recurrent state [B, state_dim] (zeros before the first step)."""
        if self._state is None:
            return np.zeros((1, self.card.state_dim), dtype=np.float32)
        return self._state.copy()

    @state.setter
    def state(self, value: np.ndarray) -> None:
        arr = np.array(value, dtype=np.float32, ndmin=2)
        if arr.ndim != 2 or arr.shape[1] != self.card.state_dim or not np.isfinite(arr).all():
            raise LiquidControlError(f"state must be finite with shape [B, {self.card.state_dim}], got shape {np.shape(value)}.")
        self._state = arr

    def reset(self) -> None:
        """Forget the recurrent state (start of an episode); the next step starts from zeros."""
        self._state = None

    # -- stepping ---------------------------------------------------------
    def step(self, obs: np.ndarray | Mapping[str, np.ndarray], dt: float | np.ndarray | None = None) -> np.ndarray:
        """One control step.

        ``obs``: [obs_dim] or [B, obs_dim] in the env's units (raw, the graph
        normalises). ``dt``: seconds since the previous step as measured on the
        robot, scalar or [B] / [B, 1]; default the card's control period.
        Returns the action [act_dim] (or [B, act_dim]) in the env's units.
        """
        x, single = self._check_obs(obs)
        state = self._state
        if single:
            if state is None:
                state = np.zeros((1, self.card.state_dim), dtype=np.float32)
            elif state.shape[0] != 1:
                raise LiquidControlError(f"got one observation but the state holds a batch of {state.shape[0]}; call reset() first.")
            period = self._period if dt is None else self._check_dt(dt, 1)
            if self._run1 is not None:
                action, self._state = self._run1(x, state, period)
                return action
            action, self._state = self._run(x.reshape(1, -1), state, period)
            return action[0]
        batch = x.shape[0]
        if state is None:
            state = np.zeros((batch, self.card.state_dim), dtype=np.float32)
        elif state.shape[0] != batch:
            raise LiquidControlError(
                f"observation batch {batch} differs from the state batch {state.shape[0]}; call reset() first."
            )
        action, self._state = self._run(x, state, self._check_dt(dt, batch))
        return action

    def _check_obs(self, obs: Any) -> tuple[np.ndarray, bool]:
        """``obs`` as float32, [obs_dim] (single, True) or [B, obs_dim] (False)."""
        try:
            x = np.asarray(obs, dtype=np.float32)
        except (TypeError, ValueError):
            x = np.zeros(0, dtype=np.float32)  # reported as a shape error below
        if x.shape == self._single_shape:
            # A dot product with ones is NaN or inf whenever an entry is, at a
            # third of the cost of np.isfinite(x).all(); the exact test confirms.
            if not math.isfinite(x.dot(self._ones)) and not np.isfinite(x).all():
                raise LiquidControlError("observation contains NaN or infinite values; check the sensors before stepping.")
            return x, True
        if isinstance(obs, Mapping):
            raise LiquidControlError("this runner takes a vector observation; dict observations are not supported yet.")
        if x.ndim != 2 or x.shape[1] != self.card.obs_dim:
            raise LiquidControlError(
                f"expected an observation of shape [{self.card.obs_dim}] or [B, {self.card.obs_dim}], got {list(np.shape(obs))}."
            )
        if not np.isfinite(x).all():
            raise LiquidControlError("observation contains NaN or infinite values; check the sensors before stepping.")
        return x, False

    def _check_dt(self, dt: float | np.ndarray | None, batch: int) -> np.ndarray:
        if dt is None:
            return self._period if batch == 1 else np.repeat(self._period, batch, axis=0)
        if np.isscalar(dt):
            value = float(dt)  # type: ignore[arg-type]
            if not (math.isfinite(value) and value > 0):
                raise LiquidControlError(f"dt must be a positive number of seconds, got {dt!r}.")
            return np.full((batch, 1), value, dtype=np.float32)
        arr = np.asarray(dt, dtype=np.float32)
        if arr.size != batch or not np.isfinite(arr).all() or (arr <= 0).any():
            raise LiquidControlError(f"dt must be {batch} positive finite seconds, got {arr.tolist()}.")
        return arr.reshape(batch, 1)


# -- onnxruntime backend ----------------------------------------------------
def _onnx_step_fn(path: Path, card: PolicyCard) -> StepFn:
    """A single-threaded onnxruntime session wrapped as ``(obs, state, dt) -> (action, state)``."""
    import onnxruntime as ort

    if not path.is_file():
        raise LiquidControlError(f"the bundle has no ONNX model at {path}.")
    opts = ort.SessionOptions()
    # One thread and sequential execution: for a model this small, thread
    # hand-offs cost more than the arithmetic.
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    try:
        session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises several private exception types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LiquidControlError(f"cannot load the ONNX model {path}: it is corrupt or not ONNX ({first[:160]}).") from None
    check_session_against_card(session, card, str(path))
    outputs = list(DEFAULT_OUTPUTS)
    obs_name = card.obs_inputs()[0]

    def run(obs: np.ndarray, state: np.ndarray, dt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        action, new_state = session.run(outputs, {obs_name: obs, "state": state, "dt": dt})
        return action, new_state

    return run


def check_session_against_card(session: Any, card: PolicyCard, source: str) -> None:
    """Compare the graph's input/output names and widths with the card; raise on the first mismatch."""
    bad = [v.name for v in list(session.get_inputs()) + list(session.get_outputs())
           if v.name in ("obs", "state", "dt", *DEFAULT_OUTPUTS) and v.type != "tensor(float)"]
    if bad:
        raise LiquidControlError(f"{source} gives {bad} a type other than float32; the card contract needs float32.")
    inputs = {i.name: i.shape for i in session.get_inputs()}
    outputs = {o.name: o.shape for o in session.get_outputs()}
    if set(inputs) != set(card.onnx_inputs):
        raise LiquidControlError(f"{source} has inputs {sorted(inputs)} but the card lists {sorted(card.onnx_inputs)}.")
    if not set(DEFAULT_OUTPUTS) <= set(outputs):
        raise LiquidControlError(f"{source} has outputs {sorted(outputs)} but the card needs {DEFAULT_OUTPUTS}.")
    widths = {"state": card.state_dim, "dt": 1, "action": card.act_dim, "state_out": card.state_dim}
    if "obs" in inputs:
        widths["obs"] = card.obs_dim
    shapes = {**inputs, **outputs}
    for name, width in widths.items():
        shape = shapes[name]
        if len(shape) != 2 or (isinstance(shape[1], int) and shape[1] != width):
            raise LiquidControlError(f"{source} gives {name!r} the shape {shape} but the card expects [B, {width}].")
    _check_embedded_card(session, card, source)


def _check_embedded_card(session: Any, card: PolicyCard, source: str) -> None:
    """The card copy inside the ONNX metadata must describe the same model as card.json."""
    meta = session.get_modelmeta().custom_metadata_map
    if ONNX_METADATA_KEY not in meta:
        return  # graphs exported elsewhere carry no card; names and widths were checked
    try:
        embedded = json.loads(meta[ONNX_METADATA_KEY])
    except json.JSONDecodeError:
        raise LiquidControlError(f"{source} carries a corrupt card in its metadata.") from None
    mine = card.to_dict()
    for key in ("env_id", "obs_dim", "act_dim", "state_dim"):
        if embedded.get(key) != mine[key]:
            raise LiquidControlError(
                f"{source} was exported with {key}={embedded.get(key)!r} but card.json says {mine[key]!r}."
            )
    if embedded.get("model", {}).get("kind") != card.model_kind:
        raise LiquidControlError(
            f"{source} was exported as model kind {embedded.get('model', {}).get('kind')!r} but card.json says {card.model_kind!r}."
        )
