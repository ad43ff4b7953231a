"""Run a policy bundle on a robot: numpy + onnxruntime, no torch.

>>> runner = PolicyRunner("bundles/parking-cfc", backend="numpy")
>>> runner.reset()
>>> action = runner.step(obs, dt=measured_seconds)   # obs [obs_dim] -> action [act_dim]

Both backends compute the same single-step graph (inputs ``obs`` [B, obs_dim]
or one ``obs_<key>`` per key of a Dict observation, ``state`` [B, state_dim],
``dt`` [B, 1] seconds; outputs ``action`` [B, act_dim], ``state_out``); the
runner keeps ``state`` between calls.

Guarantees of :meth:`PolicyRunner.step`: it returns a finite action of the
right shape or raises one :class:`LiquidControlError`; the kept state is
always finite (a step that would produce a non-finite action or state
raises and resets the state to zeros). ``dt`` must lie in
``(0, MAX_DT_S]`` seconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.runtime.card import (
    DEFAULT_OUTPUTS,
    IMAGE_DTYPE,
    ONNX_METADATA_KEY,
    PolicyCard,
    card_from_bytes,
    strict_json_loads,
)
from liquidcontrol.runtime.manifest import read_manifest, read_verified

StepFn = Callable[[Any, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
BACKENDS = ("onnxruntime", "numpy")
CARD_FILE, ONNX_FILE, NUMPY_FILE = "card.json", "policy.onnx", "weights.npz"
#: Largest accepted ``dt`` (seconds): a longer gap is a stalled robot, not a control step.
MAX_DT_S = 3600.0
_NUMERIC = frozenset("fiub")  # float, signed / unsigned int, bool
_NON_FINITE_OBS = ("observation contains NaN or infinite values (or values beyond float32); "
                   "check the sensors before stepping.")


class PolicyRunner:
    """A loaded bundle plus its recurrent state.

    ``backend="onnxruntime"`` runs ``policy.onnx`` in a single-threaded
    session; ``backend="numpy"`` runs ``weights.npz`` with plain numpy (the
    lowest latency for these tiny models; vector inputs only). Outputs agree
    to about 1e-6. If the bundle has a ``manifest.json``, every file read is
    checked against its sha256 first.

    ``providers`` (onnxruntime only): the execution providers to try in
    order, names or ``(name, options)`` pairs as onnxruntime takes them, e.g.
    ``["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]``
    on a Jetson; default the CPU provider alone. A name this onnxruntime
    build does not offer is refused with one error.
    """

    def __init__(self, bundle_dir: str | Path, backend: str = "onnxruntime",
                 providers: Sequence[str | tuple[str, dict[str, Any]]] | None = None) -> None:
        folder = Path(bundle_dir)
        if not folder.is_dir():
            raise LiquidControlError(f"policy bundle folder {folder} does not exist.")
        if backend not in BACKENDS:
            raise LiquidControlError(f"unknown runtime backend {backend!r}; expected one of {', '.join(BACKENDS)}.")
        if providers is not None and backend != "onnxruntime":
            raise LiquidControlError("execution providers choose how onnxruntime runs; the numpy backend takes none.")
        self.folder = folder
        self.backend = backend
        manifest = read_manifest(folder)
        card_path = folder / CARD_FILE
        card_bytes = read_verified(folder, CARD_FILE, manifest,
                                   missing=f"no policy card at {card_path}; a bundle folder needs a card.json.")
        self.card: PolicyCard = card_from_bytes(card_bytes, str(card_path))
        card = self.card
        if backend == "numpy" and card.image_inputs():
            raise LiquidControlError(
                "the numpy backend runs vector observations only and this bundle takes images; use backend='onnxruntime'.")
        # _run1: optional single-sample shortcut, obs [obs_dim] -> action [act_dim].
        self._run1: StepFn | None = None
        if backend == "onnxruntime":
            path = folder / ONNX_FILE
            data = read_verified(folder, ONNX_FILE, manifest, missing=f"the bundle has no ONNX model at {path}.")
            self._run: StepFn = _onnx_step_fn(path, data, card, providers)
        else:
            from liquidcontrol.runtime.numpy_backend import load_numpy_step

            path = folder / NUMPY_FILE
            data = read_verified(folder, NUMPY_FILE, manifest, missing=f"the bundle has no numpy weights at {path}.")
            self._run, self._run1 = load_numpy_step(path, card, data)
        self._period = np.full((1, 1), card.control_period_s, dtype=np.float32)
        self._state: np.ndarray | None = None
        zeros = np.zeros((1, card.state_dim), dtype=np.float32)
        zeros.flags.writeable = False
        self._zeros1 = zeros
        self._dict = card.is_dict
        # For a Dict observation the numpy backend gets the vector inputs concatenated.
        self._concat = self._dict and backend == "numpy"
        self._ones = np.ones(card.obs_dim, dtype=np.float32)
        self._ones_act = np.ones(card.act_dim, dtype=np.float64)
        self._ones_state = np.ones(card.state_dim, dtype=np.float64)
        # None for a Dict observation: no plain array is a valid single sample then.
        self._single_shape = None if self._dict else (card.obs_dim,)
        self._act_shape, self._state_shape1 = (card.act_dim,), (1, card.state_dim)

    # -- state ------------------------------------------------------------
    @property
    def state(self) -> np.ndarray:
        """Copy of the recurrent state [B, state_dim] (zeros before the first step)."""
        if self._state is None:
            return np.zeros((1, self.card.state_dim), dtype=np.float32)
        return self._state.copy()

    @state.setter
    def state(self, value: np.ndarray) -> None:
        try:
            arr = np.array(value, dtype=np.float32, ndmin=2)
        except (TypeError, ValueError, OverflowError):
            arr = np.zeros((0, 0), dtype=np.float32)
        if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] != self.card.state_dim or not np.isfinite(arr).all():
            raise LiquidControlError(
                f"state must be finite with shape [B, {self.card.state_dim}], got shape {list(np.shape(value))}.")
        self._state = arr

    def reset(self) -> None:
        """Forget the recurrent state (start of an episode); the next step starts from zeros."""
        self._state = None

    # -- stepping ---------------------------------------------------------
    def step(self, obs: np.ndarray | Mapping[str, np.ndarray], dt: float | np.ndarray | None = None) -> np.ndarray:
        """One control step.

        ``obs``: [obs_dim] or [B, obs_dim] in the env's units (raw, the graph
        normalises); for a Dict-observation bundle a mapping ``{key: array}``
        with the keys of the card's inputs (images uint8 [H, W, 3] or
        [B, H, W, 3], vectors [n] or [B, n]). ``dt``: seconds since the
        previous step as measured on the robot, in (0, ``MAX_DT_S``], scalar
        or [B] / [B, 1]; default the card's control period.
        Returns the action [act_dim] (or [B, act_dim]) in the env's units.
        Raises :class:`LiquidControlError` for bad inputs, and for a
        non-finite result, after resetting the state to zeros.
        """
        if type(obs) is np.ndarray and obs.shape == self._single_shape and obs.dtype == np.float32:
            # The common robot call, inlined. A dot product with ones is NaN or
            # inf whenever an entry is, at a third of the cost of np.isfinite(x).all().
            if not math.isfinite(obs.dot(self._ones)) and not np.isfinite(obs).all():
                raise LiquidControlError(_NON_FINITE_OBS)
            x, batch = obs, 0
        else:
            x, batch = self._check_dict_obs(obs) if self._dict else self._check_obs(obs)
        state = self._state
        if batch == 0:  # a single sample
            if state is None:
                state = self._zeros1
            elif state.shape[0] != 1:
                raise LiquidControlError(f"got one observation but the state holds a batch of {state.shape[0]}; call reset() first.")
            period = self._period if dt is None else self._check_dt(dt, 1)
            try:
                if self._run1 is not None:
                    action, new_state = self._run1(x, state, period)
                else:
                    action, new_state = self._run(_batch_of_one(x), state, period)
                    action = action[0]
                if action.shape != self._act_shape or new_state.shape != self._state_shape1:
                    raise ValueError(f"outputs of shapes {action.shape} and {new_state.shape}")
            except Exception as exc:
                self._failed(exc)
            if not math.isfinite(action.dot(self._ones_act) + new_state[0].dot(self._ones_state)) and not (
                    np.isfinite(action).all() and np.isfinite(new_state).all()):
                self._non_finite(period)
            self._state = new_state
            return action
        if state is None:
            state = np.zeros((batch, self.card.state_dim), dtype=np.float32)
        elif state.shape[0] != batch:
            raise LiquidControlError(
                f"observation batch {batch} differs from the state batch {state.shape[0]}; call reset() first.")
        period = self._check_dt(dt, batch)
        try:
            action, new_state = self._run(x, state, period)
        except Exception as exc:
            self._failed(exc)
        if np.shape(action) != (batch, self.card.act_dim) or np.shape(new_state) != (batch, self.card.state_dim):
            self._failed(ValueError(f"outputs of shapes {np.shape(action)} and {np.shape(new_state)}"))
        if not (np.isfinite(action).all() and np.isfinite(new_state).all()):
            self._non_finite(period)
        self._state = new_state
        return action

    def _failed(self, exc: BaseException) -> NoReturn:
        """The backend raised (a damaged model): the state is reset, one clear error."""
        self._state = None
        if isinstance(exc, LiquidControlError):
            raise exc
        detail = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise LiquidControlError(
            f"the {self.backend} backend failed to run this bundle ({type(exc).__name__}: {detail}); the state was reset, "
            "check that the bundle is intact.") from None

    def _non_finite(self, period: np.ndarray) -> NoReturn:
        self._state = None
        dts = np.unique(period)
        shown = f"{float(dts[0]):.6g} s" if dts.size == 1 else f"{float(dts.min()):.6g} to {float(dts.max()):.6g} s"
        raise LiquidControlError(
            f"the policy produced a non-finite action or state (dt {shown}); the state was reset to zeros, "
            "so check the observation, dt and the bundle's weights.")

    # -- input checks -----------------------------------------------------
    def _check_obs(self, obs: Any) -> tuple[np.ndarray, int]:
        """``obs`` as float32: ([obs_dim], 0) for one sample or ([B, obs_dim], B)."""
        if type(obs) is np.ndarray:
            arr = obs
        elif isinstance(obs, Mapping):
            raise LiquidControlError(
                f"this bundle takes a vector observation of shape [{self.card.obs_dim}], not a dict.")
        else:
            arr = _as_array(obs, "observation")
        if arr.dtype.kind not in _NUMERIC:
            raise LiquidControlError(f"observation must hold numbers, got an array of dtype {arr.dtype}.")
        if arr.shape == self._single_shape:
            x = arr if arr.dtype == np.float32 else arr.astype(np.float32)
            if not math.isfinite(x.dot(self._ones)) and not np.isfinite(x).all():
                raise LiquidControlError(_NON_FINITE_OBS)
            return x, 0
        if arr.ndim != 2 or arr.shape[1] != self.card.obs_dim or arr.shape[0] < 1:
            raise LiquidControlError(
                f"expected an observation of shape [{self.card.obs_dim}] or [B, {self.card.obs_dim}] with B >= 1, "
                f"got {list(arr.shape)}.")
        x = arr.astype(np.float32, copy=False)
        if not np.isfinite(x).all():
            raise LiquidControlError(_NON_FINITE_OBS)
        return x, arr.shape[0]

    def _check_dict_obs(self, obs: Any) -> tuple[Any, int]:
        """A Dict observation as the backend's input: ``{obs_<key>: [B, ...]}``
        (onnxruntime) or the concatenated vectors (numpy); and the batch (0 = single)."""
        inputs = self.card.inputs
        keys = [i["key"] for i in inputs]
        if not isinstance(obs, Mapping):
            raise LiquidControlError(
                f"this bundle takes a dict observation with the keys {keys}, got {type(obs).__name__}.")
        missing = [k for k in keys if k not in obs]
        if missing:
            raise LiquidControlError(f"the observation is missing the key(s) {missing}; this bundle takes {keys}.")
        extra = sorted(repr(k)[:40] for k in obs if k not in keys)
        if extra:
            raise LiquidControlError(f"the observation has unexpected key(s) {', '.join(extra)}; this bundle takes {keys}.")
        batches: set[int] = set()
        feed: dict[str, np.ndarray] = {}
        for inp in inputs:
            key, shape = inp["key"], tuple(inp["shape"])
            arr = _as_array(obs[key], f"observation {key!r}")
            if inp["dtype"] == IMAGE_DTYPE:
                if arr.dtype != np.uint8:
                    raise LiquidControlError(f"observation {key!r} must be a uint8 image, got dtype {arr.dtype}.")
            elif arr.dtype.kind not in _NUMERIC:
                raise LiquidControlError(f"observation {key!r} must hold numbers, got dtype {arr.dtype}.")
            if arr.shape == shape:
                batches.add(0)
                arr = arr[None]
            elif arr.ndim == len(shape) + 1 and arr.shape[1:] == shape and arr.shape[0] >= 1:
                batches.add(arr.shape[0])
            else:
                dims = ", ".join(map(str, shape))
                raise LiquidControlError(
                    f"observation {key!r} must have shape [{dims}] or [B, {dims}], got {list(arr.shape)}.")
            if inp["dtype"] != IMAGE_DTYPE:
                arr = arr.astype(np.float32, copy=False)
                if not np.isfinite(arr).all():
                    raise LiquidControlError(f"observation {key!r} contains NaN or infinite values (or values beyond float32).")
            feed[inp["name"]] = arr
        if len(batches) != 1:
            raise LiquidControlError(
                "the observation's keys disagree on the batch: give every key one sample, or every key the same batch B.")
        batch = batches.pop()
        if self._concat:
            x = np.concatenate([feed[i["name"]] for i in inputs], axis=1)
            return (x[0] if batch == 0 else x), batch
        return feed, batch

    def _check_dt(self, dt: Any, batch: int) -> np.ndarray:
        """``dt`` as float32 seconds [batch, 1], each in (0, MAX_DT_S]."""
        if dt is None:
            return self._period if batch == 1 else np.repeat(self._period, batch, axis=0)
        if isinstance(dt, (float, int, np.floating, np.integer)) and not isinstance(dt, (bool, np.bool_)):
            try:
                seconds = float(dt)
            except (OverflowError, ValueError):
                seconds = math.nan
            value = np.float32(seconds) if 0.0 < seconds <= MAX_DT_S else np.float32(0.0)
            if not value > 0.0:  # NaN, out of range, or so small it rounds to 0 in float32
                raise LiquidControlError(
                    f"dt must be a positive number of seconds of at most {MAX_DT_S:g}, got {_brief(dt)}.")
            return np.full((batch, 1), value, dtype=np.float32)
        if isinstance(dt, (str, bytes, bool, np.bool_, Mapping)):
            raise LiquidControlError(f"dt must be a positive number of seconds, got {_brief(dt)}.")
        arr = _as_array(dt, "dt")
        if arr.dtype.kind not in "fiu":
            raise LiquidControlError(f"dt must be {batch} positive number(s) of seconds, got an array of dtype {arr.dtype}.")
        with np.errstate(all="ignore"):
            arr = arr.astype(np.float32)
        if arr.size != batch or not (np.isfinite(arr).all() and (arr > 0).all() and (arr <= MAX_DT_S).all()):
            raise LiquidControlError(
                f"dt must be {batch} positive finite seconds of at most {MAX_DT_S:g}, got {_brief(arr.tolist())}.")
        return arr.reshape(batch, 1)


def _batch_of_one(x: Any) -> Any:
    if isinstance(x, dict):
        return x
    return x.reshape(1, -1)


def _as_array(value: Any, what: str) -> np.ndarray:
    """``np.asarray(value)`` with one clear error for ragged or unconvertible input."""
    if isinstance(value, (str, bytes)) or value is None:
        raise LiquidControlError(f"{what} must be an array of numbers, got {_brief(value)}.")
    try:
        return np.asarray(value)
    except Exception as exc:  # ragged lists, objects whose __array__ fails ...
        raise LiquidControlError(f"{what} cannot be read as an array of numbers ({type(exc).__name__}).") from None


def _brief(value: Any) -> str:
    text = " ".join(repr(value).split())
    return text if len(text) <= 60 else text[:57] + "..."


# -- onnxruntime backend ----------------------------------------------------
_ORT_TYPES = {"float32": "tensor(float)", "uint8": "tensor(uint8)"}


def _check_providers(ort: Any, providers: Any) -> list[Any]:
    """The providers list for the session (default: CPU alone); unknown names are one error."""
    if providers is None:
        return ["CPUExecutionProvider"]
    names = [p[0] if isinstance(p, tuple) and len(p) == 2 and isinstance(p[1], dict) else p for p in providers]
    if not names or not all(isinstance(n, str) for n in names):
        raise LiquidControlError(f"providers must be a non-empty list of provider names or (name, options) pairs, "
                                 f"got {_brief(providers)}.")
    available = ort.get_available_providers()
    missing = [n for n in names if n not in available]
    if missing:
        raise LiquidControlError(f"onnxruntime execution provider {missing[0]!r} is not available in this onnxruntime "
                                 f"(available: {', '.join(available)}); install the onnxruntime build for that device.")
    return list(providers)


def _onnx_step_fn(path: Path, data: bytes, card: PolicyCard, providers: Any = None) -> StepFn:
    """A single-threaded onnxruntime session wrapped as ``(obs, state, dt) -> (action, state)``;
    ``obs`` is the ``obs`` array, or a dict ``{obs_<key>: array}`` for a Dict observation."""
    import onnxruntime as ort

    chosen = _check_providers(ort, providers)

    opts = ort.SessionOptions()
    # One thread and sequential execution: for a model this small, thread
    # hand-offs cost more than the arithmetic.
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    try:
        session = ort.InferenceSession(data, sess_options=opts, providers=chosen)
    except Exception as exc:  # onnxruntime raises several private exception types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LiquidControlError(f"cannot load the ONNX model {path}: it is corrupt or not ONNX ({first[:160]}).") from None
    try:
        check_session_against_card(session, card, str(path))
    except LiquidControlError:
        raise
    except Exception as exc:  # e.g. names or metadata that are not UTF-8
        raise LiquidControlError(
            f"cannot load the ONNX model {path}: its signature or metadata is corrupt ({type(exc).__name__}).") from None
    outputs = list(DEFAULT_OUTPUTS)
    obs_name = card.obs_inputs()[0]
    run_session = session.run

    def run(obs: Any, state: np.ndarray, dt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if isinstance(obs, dict):
            feed = {**obs, "state": state, "dt": dt}
        else:
            feed = {obs_name: obs, "state": state, "dt": dt}
        action, new_state = run_session(outputs, feed)
        return action, new_state

    return run


def check_session_against_card(session: Any, card: PolicyCard, source: str) -> None:
    """Compare the graph's input/output names, types and shapes with the card; raise on the first mismatch."""
    inputs = {i.name: i for i in session.get_inputs()}
    outputs = {o.name: o for o in session.get_outputs()}
    if set(inputs) != set(card.onnx_inputs):
        raise LiquidControlError(f"{source} has inputs {sorted(inputs)} but the card lists {sorted(card.onnx_inputs)}.")
    if not set(DEFAULT_OUTPUTS) <= set(outputs):
        raise LiquidControlError(f"{source} has outputs {sorted(outputs)} but the card needs {DEFAULT_OUTPUTS}.")
    expected: dict[str, tuple[str, list[int]]] = {
        inp["name"]: (inp["dtype"], list(inp["shape"])) for inp in card.inputs}
    expected.update({"state": ("float32", [card.state_dim]), "dt": ("float32", [1]),
                     "action": ("float32", [card.act_dim]), "state_out": ("float32", [card.state_dim])})
    values = {**inputs, **outputs}
    for name, (dtype, dims) in expected.items():
        value = values[name]
        if value.type != _ORT_TYPES[dtype]:
            raise LiquidControlError(f"{source} gives {name!r} the type {value.type} but the card expects {dtype}.")
        shape = list(value.shape)
        want = ", ".join(map(str, dims))
        if len(shape) != len(dims) + 1 or any(isinstance(got, int) and got != w for got, w in zip(shape[1:], dims)):
            raise LiquidControlError(f"{source} gives {name!r} the shape {shape} but the card expects [B, {want}].")
    _check_embedded_card(session, card, source)


def _check_embedded_card(session: Any, card: PolicyCard, source: str) -> None:
    """The card copy inside the ONNX metadata must describe the same model as card.json."""
    meta = session.get_modelmeta().custom_metadata_map
    if ONNX_METADATA_KEY not in meta:
        return  # graphs exported elsewhere carry no card; names and widths were checked
    embedded = PolicyCard.from_dict(strict_json_loads(meta[ONNX_METADATA_KEY], f"the card embedded in {source}"),
                                    f"the card embedded in {source}")
    for key in ("env_id", "obs_dim", "act_dim", "state_dim"):
        if getattr(embedded, key) != getattr(card, key):
            raise LiquidControlError(
                f"{source} was exported with {key}={_brief(getattr(embedded, key))} but card.json says {_brief(getattr(card, key))}.")
    if embedded.model_kind != card.model_kind:
        raise LiquidControlError(
            f"{source} was exported as model kind {embedded.model_kind!r} but card.json says {card.model_kind!r}.")
    signature = [(i["name"], i["dtype"], i["shape"]) for i in card.inputs]
    if [(i["name"], i["dtype"], i["shape"]) for i in embedded.inputs] != signature:
        raise LiquidControlError(f"{source} was exported with other observation inputs than card.json lists.")

