"""The policy interface every model kind implements.

A policy is a recurrent controller with a *flat* state tensor, so the same
code drives a CfC, an LTC, an LSTM (h and c concatenated) or a feed-forward
MLP (frame-stack buffer, or an empty state) in training, evaluation, ONNX
export and the ROS node.

Shapes and units
----------------
- ``obs``: ``[B, obs_dim]`` float32, raw observation as the env returns it.
  Normalisation (``obs_mean`` / ``obs_std`` buffers) happens inside.
- ``state``: ``[B, state_dim]`` float32; ``initial_state(B)`` gives zeros.
- ``dt``: ``[B, 1]`` seconds since the previous step (per sample). The cell
  sees ``dt / control_period`` so that the nominal rate is one time unit, the
  convention of the reference ``ncps`` package (``timespans = 1``).
- ``action``: ``[B, act_dim]``, in the env's action units (``[-1, 1]`` for
  our tasks): an affine output map (per-dimension scale and bias) follows the
  core, so bounded cells can still reach full lock.

Subclasses implement :meth:`_core_step` (and may override
:meth:`_core_sequence` with a faster fused version).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from liquidcontrol.errors import LiquidControlError

#: Normalised observations are clipped to this many standard deviations
#: (torch, ONNX and the numpy runtime alike).
NORM_CLIP = 10.0
STD_MIN = 1e-3  # normalisation std never goes below this (in the channel's unit)


def normalize(x: Tensor, mean: Tensor, std: Tensor) -> Tensor:
    """``(x - mean) / std`` clipped to +-NORM_CLIP: flat policies and Dict encoders alike."""
    return torch.clamp((x - mean) / std, -NORM_CLIP, NORM_CLIP)


class RecurrentPolicy(nn.Module):
    """Base class: normalisation, output map, resets, validation, ``predict``."""

    kind: str = "base"
    # buffers registered in __init__
    obs_mean: Tensor
    obs_std: Tensor

    def __init__(self, obs_dim: int, act_dim: int, control_period: float = 0.05) -> None:
        super().__init__()
        if obs_dim <= 0 or act_dim <= 0:
            raise LiquidControlError(f"obs_dim and act_dim must be positive, got {obs_dim} and {act_dim}.")
        if control_period <= 0:
            raise LiquidControlError(f"control_period must be positive seconds, got {control_period}.")
        self.obs_dim = int(obs_dim)
        self.act_dim = int(act_dim)
        self.control_period = float(control_period)
        self.register_buffer("obs_mean", torch.zeros(obs_dim))
        self.register_buffer("obs_std", torch.ones(obs_dim))
        self.action_scale = nn.Parameter(torch.ones(act_dim))
        self.action_bias = nn.Parameter(torch.zeros(act_dim))
        # Dict observations: one encoder per key in front of the cell (see attach_encoder).
        self.encoder: Any = None

    # -- to implement -----------------------------------------------------
    @property
    def state_dim(self) -> int:
        raise NotImplementedError

    @property
    def core_output_dim(self) -> int:
        """Width of the core's output (before the affine action map)."""
        return self.act_dim

    def _core_step(self, x: Tensor, state: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        """One step on normalised input ``x`` [B, obs_dim] with time ``t`` [B, 1]
        in control periods; returns core output [B, act_dim] and new state."""
        raise NotImplementedError

    def _core_sequence(
        self, x: Tensor, state: Tensor, t: Tensor, keep: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        """Whole sequence: ``x`` [B, T, obs_dim], ``t`` [B, T, 1], ``keep``
        [B, T, 1] (0 where an episode starts, so the state is reset before
        that step) or None. Returns outputs [B, T, act_dim] and final state."""
        outputs = []
        for i in range(x.shape[1]):
            if keep is not None:
                state = state * keep[:, i]
            y, state = self._core_step(x[:, i], state, t[:, i])
            outputs.append(y)
        return torch.stack(outputs, dim=1), state

    def input_spec(self) -> list[dict[str, Any]]:
        """The ONNX observation inputs, in graph order: name, dict key (None for a
        flat ``Box``), dtype and per-sample shape. A vector policy has one, ``obs``;
        a Dict-observation policy one ``obs_<key>`` per key, sorted by key."""
        if self.encoder is not None:
            return self.encoder.input_spec()
        return [{"name": "obs", "key": None, "dtype": "float32", "shape": [self.obs_dim]}]

    def attach_encoder(self, encoder: nn.Module) -> None:
        """Put a Dict-observation encoder (``policies.encoders.DictEncoder``) in
        front of the cell; ``obs_dim`` must equal its feature width."""
        if int(getattr(encoder, "out_dim", -1)) != self.obs_dim:
            raise LiquidControlError(f"the encoder gives {getattr(encoder, 'out_dim', None)} features but the cell takes {self.obs_dim}.")
        self.encoder = encoder

    def config(self) -> dict[str, Any]:
        """Constructor arguments that rebuild this policy (stored in card.json)."""
        config: dict[str, Any] = {"obs_dim": self.obs_dim, "act_dim": self.act_dim, "control_period": self.control_period}
        if self.encoder is not None:
            config["obs_spec"] = [dict(s) for s in self.encoder.spec]
        return config

    # -- shared behaviour -------------------------------------------------
    def initial_state(self, batch: int) -> Tensor:
        return torch.zeros(batch, self.state_dim, device=self.obs_mean.device)

    def set_obs_stats(self, stats: Any) -> None:
        """``(mean, std)`` for flat observations, ``{key: (mean, std)}`` for Dict ones."""
        if self.encoder is not None:
            if not isinstance(stats, dict):
                raise LiquidControlError("this policy takes Dict observations: give statistics per key.")
            self.encoder.set_stats(stats)
            return
        if isinstance(stats, dict):
            raise LiquidControlError("this policy takes flat observations: give one (mean, std) pair.")
        self.set_normalization(*stats)

    def set_normalization(self, mean: np.ndarray | Tensor, std: np.ndarray | Tensor) -> None:
        """Store observation statistics; tiny std is clamped to avoid blow-ups."""
        mean_t = torch.as_tensor(np.asarray(mean, dtype=np.float32)).reshape(self.obs_dim)
        std_t = torch.as_tensor(np.asarray(std, dtype=np.float32)).reshape(self.obs_dim)
        self.obs_mean.copy_(mean_t)
        self.obs_std.copy_(torch.clamp(std_t, min=STD_MIN))

    def _normalize(self, obs: Tensor) -> Tensor:
        """``(obs - mean) / std`` clipped to +-``NORM_CLIP`` (as stable-baselines3's
        ``VecNormalize`` does): a sensor gone wild cannot drive the cell arbitrarily far."""
        return normalize(obs, self.obs_mean, self.obs_std)

    def _features(self, obs: Any) -> Tensor:
        """What the cell sees: normalised flat observations, or the encoders' features."""
        if self.encoder is not None:
            return self.encoder(obs)
        return self._normalize(obs)

    def _act(self, y: Tensor) -> Tensor:
        return y * self.action_scale + self.action_bias

    def forward(self, obs: Any, state: Tensor, dt: Tensor) -> tuple[Tensor, Tensor]:
        """One control step. ``obs`` [B, obs_dim] (or ``{key: [B, ...]}``), ``state`` [B, state_dim],
        ``dt`` [B, 1] seconds. Returns ``(action [B, act_dim], new_state)``.
        This is exactly the graph exported to ONNX."""
        y, new_state = self._core_step(self._features(obs), state, dt / self.control_period)
        return self._act(y), new_state

    def forward_sequence(
        self,
        obs: Any,
        state: Tensor | None = None,
        dt: Tensor | float | None = None,
        episode_start: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Run ``obs`` [B, T, obs_dim] through the policy.

        ``dt``: seconds, scalar or [B, T] or [B, T, 1]; default one control
        period. ``episode_start``: [B, T] (bool or 0/1), resets the state to
        zeros before the flagged steps (``(1 - done) * h``).
        Returns ``(actions [B, T, act_dim], final_state [B, state_dim])``.
        """
        self.check_sequence(obs)
        x = self._features(obs)
        batch, steps = x.shape[0], x.shape[1]
        if state is None:
            state = self.initial_state(batch)
        t = _time_tensor(dt, batch, steps, self.control_period, x)
        keep = None
        if episode_start is not None:
            keep = (1.0 - episode_start.to(x.dtype).reshape(batch, steps, 1))
        y, final = self._core_sequence(x, state, t / self.control_period, keep)
        return self._act(y), final

    def check_sequence(self, obs: Any) -> None:
        if self.encoder is not None:
            self.encoder.check(obs)
            if any(v.dim() != len(s["shape"]) + 2 for v, s in ((obs[s["key"]], s) for s in self.encoder.spec)):
                raise LiquidControlError("expected Dict observations shaped [batch, time, ...] per key.")
            return
        if obs.dim() != 3 or obs.shape[-1] != self.obs_dim:
            raise LiquidControlError(
                f"expected observations of shape [batch, time, {self.obs_dim}], got {list(obs.shape)}."
            )
        if not torch.isfinite(obs).all():
            raise LiquidControlError("observations contain NaN or infinite values; clean the data before training.")

    @torch.no_grad()
    def predict(
        self,
        obs: np.ndarray,
        state: np.ndarray | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
        dt: float | np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Numpy convenience in the stable-baselines3 style.

        ``obs`` [obs_dim] or [B, obs_dim] (Dict policies: ``{key: [...] or [B, ...]}``);
        returns ``(action, state)`` as numpy with the same leading shape.
        Policies here are deterministic; the flag is accepted for API compatibility.
        """
        del deterministic
        x, single, batch = self._predict_input(obs)
        st = self.initial_state(batch) if state is None else torch.as_tensor(
            np.asarray(state, dtype=np.float32).reshape(batch, self.state_dim))
        if episode_start is not None:
            reset = torch.as_tensor(np.asarray(episode_start, dtype=np.float32).reshape(batch, 1))
            st = st * (1.0 - reset)
        period = self.control_period if dt is None else dt
        dt_t = torch.as_tensor(np.broadcast_to(np.asarray(period, np.float32), (batch, 1)).copy())
        action, new_state = self(x, st, dt_t)
        a, s = action.numpy(), new_state.numpy()
        return (a[0], s[0]) if single else (a, s)

    def _predict_input(self, obs: Any) -> tuple[Any, bool, int]:
        """Observations as tensors with a batch axis, whether one sample was given, the batch size."""
        if self.encoder is not None:
            if not isinstance(obs, dict):
                raise LiquidControlError(f"this policy takes a dict observation with keys {self.encoder.keys}.")
            spec = {s["key"]: s for s in self.encoder.spec}
            first = spec[self.encoder.keys[0]]
            single = first["key"] in obs and np.ndim(obs[first["key"]]) == len(first["shape"])
            tensors = {}
            for key, value in obs.items():
                dtype = np.uint8 if key in spec and spec[key]["dtype"] == "uint8" else np.float32
                given = np.asarray(value)
                if dtype is np.uint8 and given.dtype != np.uint8:
                    raise LiquidControlError(f"observation {key!r} must be a uint8 image of shape {spec[key]['shape']}, "
                                             f"got dtype {given.dtype} shape {list(given.shape)}.")
                arr = given.astype(dtype, copy=False)
                tensors[key] = torch.as_tensor(arr[None] if single else arr)
            self.encoder.check(tensors)
            return tensors, single, int(next(iter(tensors.values())).shape[0])
        arr = np.asarray(obs, dtype=np.float32)
        single = arr.ndim == 1
        arr2 = arr[None] if single else arr
        if arr2.ndim != 2 or arr2.shape[1] != self.obs_dim:
            raise LiquidControlError(f"expected an observation of width {self.obs_dim}, got shape {arr.shape}.")
        if not np.isfinite(arr2).all():
            raise LiquidControlError("observation contains NaN or infinite values.")
        return torch.as_tensor(arr2), single, int(arr2.shape[0])

    def num_parameters(self, trainable_only: bool = True, effective: bool = False) -> int:
        """Parameter count; ``effective=True`` leaves out entries the wiring
        masks out (absent NCP synapses), which no gradient or input can change."""
        total = sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)
        if effective:
            counters = [getattr(m, "masked_parameter_count", None) for m in self.modules()]
            total -= sum(int(count()) for count in counters if callable(count))
        return total


def _time_tensor(dt: Tensor | float | None, batch: int, steps: int, period: float, like: Tensor) -> Tensor:
    """Normalise the many accepted ``dt`` forms to seconds [B, T, 1]."""
    if dt is None:
        return torch.full((batch, steps, 1), period, dtype=like.dtype, device=like.device)
    if not isinstance(dt, Tensor):
        return torch.full((batch, steps, 1), float(dt), dtype=like.dtype, device=like.device)
    t = dt.to(like.dtype)
    if t.dim() == 2:
        t = t.unsqueeze(-1)
    if t.shape != (batch, steps, 1):
        raise LiquidControlError(f"expected dt of shape [{batch}, {steps}] or [{batch}, {steps}, 1], got {list(dt.shape)}.")
    return t
