"""Image augmentation for camera policies, applied to training batches.

For each episode of a batch (the same for all its steps, as one camera on one
drive would be): a brightness offset of up to +-40 levels, a contrast factor
in 1 +- 0.3, a colour gain per channel in 1 +- 0.1 and a shift of up to 3
pixels in each direction; for each frame, Gaussian pixel noise of sigma 6
levels. Every amount is multiplied by ``strength`` (``FitConfig.augment``;
0 = off). Images stay in the 0-255 range as float32, which the conv head
accepts like uint8. Vector keys pass through. The draws come from the
training generator, so a resumed run augments exactly as an uninterrupted one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

BRIGHTNESS, CONTRAST, GAIN, SHIFT_PX, NOISE = 40.0, 0.3, 0.1, 3, 6.0


@dataclass(frozen=True)
class EpisodeJitter:
    """Per-episode draws for one batch: arrays of length B (``gain`` is [B, 3])."""

    brightness: np.ndarray
    contrast: np.ndarray
    gain: np.ndarray
    shift: np.ndarray  # [B, 2] rows, columns
    noise_seed: int


def draw_jitter(n: int, strength: float, rng: np.random.Generator) -> EpisodeJitter:
    s = float(strength)
    top = int(round(SHIFT_PX * s))
    return EpisodeJitter(
        brightness=rng.uniform(-BRIGHTNESS * s, BRIGHTNESS * s, n).astype(np.float32),
        contrast=rng.uniform(1 - CONTRAST * s, 1 + CONTRAST * s, n).astype(np.float32),
        gain=rng.uniform(1 - GAIN * s, 1 + GAIN * s, (n, 3)).astype(np.float32),
        shift=rng.integers(-top, top + 1, (n, 2)) if top > 0 else np.zeros((n, 2), np.int64),
        noise_seed=int(rng.integers(2**62)),
    )


def augment_images(obs: dict[str, Tensor], jitter: EpisodeJitter, strength: float, chunk: int) -> dict[str, Tensor]:
    """``obs`` (keys -> [B, T, ...]) with every uint8 image key augmented; ``chunk`` numbers the
    TBPTT chunk so each chunk draws its own frame noise."""
    out = dict(obs)
    gen = torch.Generator().manual_seed(jitter.noise_seed + chunk)
    for key, x in obs.items():
        if x.dtype != torch.uint8 or x.dim() != 5:
            continue
        img = x.to(torch.float32)
        b = img.shape[0]
        c = torch.from_numpy(jitter.contrast).view(b, 1, 1, 1, 1)
        g = torch.from_numpy(jitter.gain).view(b, 1, 1, 1, 3)
        br = torch.from_numpy(jitter.brightness).view(b, 1, 1, 1, 1)
        img = ((img - 128.0) * c + 128.0) * g + br
        if NOISE * strength > 0:
            img = img + torch.randn(img.shape, generator=gen) * (NOISE * strength)
        rows = []
        for i in range(b):
            dy, dx = (int(v) for v in jitter.shift[i])
            rows.append(torch.roll(img[i], shifts=(dy, dx), dims=(1, 2)) if (dy or dx) else img[i])
        out[key] = torch.stack(rows).clamp_(0.0, 255.0)
    return out
