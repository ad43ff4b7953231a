"""Observation encoders for Dict observations: one per key, concatenated for the cell.

- vector keys (float32 ``[n]``): normalised by ``base.normalize``, ``(x - mean) / std``
  clipped to ±``NORM_CLIP`` (statistics from the demonstrations, as for flat observations);
- image keys (uint8 ``[H, W, 3]``): a :class:`ConvHead` — a few strided
  convolutions, then a linear layer to ``features`` (32, as in the Neural
  Circuit Policies paper's lane-keeping model).

Keys are processed in sorted order (Gymnasium's ``Dict`` order), and the
feature vector is ``[features of key 0 | features of key 1 | ...]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from liquidcontrol.errors import LiquidControlError

from .base import STD_MIN, normalize

IMAGE_FEATURES = 32


class ConvHead(nn.Module):
    """uint8 images ``[B, H, W, 3]`` -> features ``[B, features]``.

    Three 3x3 convolutions with stride 2 (16, 32, 32 channels, ReLU) and a
    linear map of the flattened result, squashed by tanh. Pixels are scaled
    to [-1, 1] inside, so the exported graph takes the camera's uint8 frames
    as they are. (Measured by behaviour cloning on 48 driving demonstrations
    at lr 1e-3: with pixels in [0, 1] the loss stayed at a constant action's,
    0.07-0.09, for 6 epochs; centred on zero it fell to 0.005. A ReLU on the
    32 features instead of tanh did not learn either.)
    """

    def __init__(self, height: int, width: int, features: int = IMAGE_FEATURES, channels: Sequence[int] = (16, 32, 32)) -> None:
        super().__init__()
        if height < 8 or width < 8:
            raise LiquidControlError(f"a conv head needs images of at least 8x8 pixels, got {height}x{width}.")
        layers: list[nn.Module] = []
        c_in = 3
        for c in channels:
            layers += [nn.Conv2d(c_in, c, kernel_size=3, stride=2, padding=1), nn.ReLU()]
            c_in = c
        self.convs = nn.Sequential(*layers)
        with torch.no_grad():
            flat = self.convs(torch.zeros(1, 3, height, width)).numel()
        self.linear = nn.Linear(flat, features)
        self.height, self.width, self.features = int(height), int(width), int(features)

    def forward(self, image: Tensor) -> Tensor:
        x = image.to(torch.float32).permute(0, 3, 1, 2) * (1.0 / 127.5) - 1.0
        return torch.tanh(self.linear(self.convs(x).flatten(1)))


class VectorNormalizer(nn.Module):
    """``(x - mean) / std`` clipped to ±NORM_CLIP, statistics as buffers."""

    mean: Tensor
    std: Tensor

    def __init__(self, width: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(width))
        self.register_buffer("std", torch.ones(width))
        self.width = int(width)

    def forward(self, x: Tensor) -> Tensor:
        return normalize(x.to(torch.float32), self.mean, self.std)


class DictEncoder(nn.Module):
    """One encoder per key of a Dict observation; ``spec`` lists ``{key, dtype, shape}``."""

    def __init__(self, spec: Sequence[Mapping[str, Any]]) -> None:
        super().__init__()
        self.spec: list[dict[str, Any]] = [
            {"key": str(s["key"]), "dtype": str(s["dtype"]), "shape": [int(v) for v in s["shape"]]}
            for s in sorted(spec, key=lambda s: str(s["key"]))]
        if not self.spec:
            raise LiquidControlError("a Dict observation needs at least one key.")
        self.encoders = nn.ModuleDict()
        width = 0
        for s in self.spec:
            key, shape = s["key"], s["shape"]
            if s["dtype"] == "uint8":
                if len(shape) != 3 or shape[2] != 3:
                    raise LiquidControlError(f"image key {key!r} must have shape [H, W, 3], got {shape}.")
                head = ConvHead(shape[0], shape[1])
                self.encoders[key] = head
                width += head.features
            elif s["dtype"] == "float32" and len(shape) == 1 and shape[0] > 0:
                self.encoders[key] = VectorNormalizer(shape[0])
                width += shape[0]
            else:
                raise LiquidControlError(f"observation key {key!r}: expected a float32 vector or a uint8 image, "
                                         f"got dtype {s['dtype']} shape {shape}.")
        self.out_dim = width

    @property
    def keys(self) -> list[str]:
        return [s["key"] for s in self.spec]

    def forward(self, obs: Mapping[str, Tensor]) -> Tensor:
        """``obs[key]`` with any leading batch axes -> features ``[..., out_dim]``.
        Keys and shapes are checked here; values (NaN) by :meth:`check` in training,
        since a data-dependent test cannot be part of the exported graph."""
        self.check(obs, values=False)
        lead = obs[self.keys[0]].shape[: -len(self.spec[0]["shape"])]
        parts = []
        for s in self.spec:
            x = obs[s["key"]]
            flat = x.reshape(-1, *s["shape"])
            parts.append(self.encoders[s["key"]](flat).reshape(*lead, -1))
        return torch.cat(parts, dim=-1)

    def check(self, obs: Any, values: bool = True) -> None:
        if not isinstance(obs, Mapping):
            raise LiquidControlError(f"this policy takes a dict observation with keys {self.keys}, got {type(obs).__name__}.")
        if set(obs) != set(self.keys):
            raise LiquidControlError(f"observation keys {sorted(obs)} differ from the policy's {self.keys}.")
        for s in self.spec:
            x = obs[s["key"]]
            if list(x.shape[-len(s["shape"]):]) != s["shape"]:
                raise LiquidControlError(f"observation {s['key']!r} has shape {list(x.shape)}; expected [..., {s['shape']}].")
            if values and s["dtype"] == "float32" and not torch.isfinite(x).all():
                raise LiquidControlError(f"observation {s['key']!r} contains NaN or infinite values.")

    def set_stats(self, stats: Mapping[str, tuple[Any, Any]]) -> None:
        """Normalisation statistics ``{key: (mean, std)}`` of the vector keys."""
        for key, enc in self.encoders.items():
            if isinstance(enc, VectorNormalizer):
                if key not in stats:
                    raise LiquidControlError(f"no normalisation statistics for observation key {key!r}.")
                mean, std = stats[key]
                enc.mean.copy_(torch.as_tensor(mean, dtype=torch.float32).reshape(enc.width))
                enc.std.copy_(torch.clamp(torch.as_tensor(std, dtype=torch.float32).reshape(enc.width), min=STD_MIN))

    def input_spec(self) -> list[dict[str, Any]]:
        return [{"name": f"obs_{s['key']}", "key": s["key"], "dtype": s["dtype"], "shape": list(s["shape"])}
                for s in self.spec]
