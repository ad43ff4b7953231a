"""Camera perturbations: what rain, fog, a dirty lens, motion, low light and compression do to an image.

Each acts on every uint8 ``[H, W, 3]`` image key of a ``spaces.Dict``
observation (``keys=`` selects some), is deterministic given the episode
seed (see :mod:`liquidcontrol.perturb.base`), and costs well under 0.5 ms per
64 x 128 frame with numpy and OpenCV (``liquidcontrol bench perturb``).
Effects that belong to the episode (the slant of the rain, the drops on the
lens, the dirt, the direction of the blur, the sign of the brightness
change) are drawn at reset and persist; per-frame ones (noise, streak
positions) are drawn each step.

| name | severity 1 … 5 | physical meaning |
|---|---|---|
| camera_rain | 2.5, 8, 20, 50, 100 mm/h | light … violent rain: see below |
| image_noise | sigma 4, 8, 16, 24, 40 levels | sensor read noise (Gaussian, per pixel and channel) |
| shot_noise | 400, 150, 60, 25, 10 photo-electrons at full scale | photon noise in low light (Poisson, normal approximation) |
| motion_blur | 3, 5, 7, 9, 13 px | exposure while the camera moves or vibrates (line kernel, angle per episode) |
| fog | visibility 20, 10, 5, 3, 1.5 m | Koschmieder: I = J t + A (1 - t), t = exp(-3.9 d / V), d from the camera geometry |
| brightness_contrast | ±20 / ×0.9 … ±90 / ×0.5 | exposure error and a washed-out or flat image |
| occlusion | 2, 5, 10, 20, 30 % of the image | mud or dirt blobs stuck on the lens |
| jpeg | quality 60, 35, 20, 10, 5 | compression artefacts of a video link |

**camera_rain** (the headline; the project's own model, severity = rain
rate R in mm/h). Five things at once, each scaled by R:

* *darkening*: overcast light, the image × 0.92 / 0.85 / 0.77 / 0.70 / 0.62;
* *contrast loss*: scattering by the drops in the air between the camera and
  the scene, a blend towards the grey airlight by 1 - exp(-beta d) with
  beta = 0.25 R^0.7 per km (of the order of published empirical fits of rain
  extinction) over a full-scale viewing distance d = 50 m: 2.3 / 5.1 / 9.5 /
  17.5 / 27 %;
* *streaks*: drops falling through the exposure leave bright slanted lines;
  15 / 40 / 80 / 140 / 220 per 64 x 128 frame, 4 / 6 / 8 / 10 / 12 px long
  (bigger drops fall faster), slanted by a wind angle drawn per episode
  (± 20 deg), blended at 35 % towards white;
* *lens drops*: 2 / 4 / 7 / 10 / 14 drops of 3-7 px radius on the lens,
  persisting and sliding down slowly; each acts as a small wide-angle lens
  and shows a blurred, inverted view of the area around it;
* *wet road*: tyre-road friction × 0.9 / 0.8 / 0.7 / 0.6 / 0.5, the same
  factors as the parking task's ``rain``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import cv2
import gymnasium as gym
import numpy as np

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.perturb.base import PerturbationWrapper, SeedLike
from liquidcontrol.perturb.physics import PhysicsScale
from liquidcontrol.perturb.registry import PerturbationSpec, register_perturbation

#: The driving camera's geometry (``DrivingEnv``): height above the road m, pitch down rad, vertical fov rad.
DEFAULT_CAMERA = (0.20, math.radians(20.0), math.radians(55.0))
AIRLIGHT = 190.0  # grey level of fog and rain haze
RAIN_RATES = (0.0, 2.5, 8.0, 20.0, 50.0, 100.0)
RAIN_DARKEN = (1.0, 0.92, 0.85, 0.77, 0.70, 0.62)
RAIN_STREAKS = (0, 15, 40, 80, 140, 220)
RAIN_STREAK_PX = (0, 4, 6, 8, 10, 12)
RAIN_DROPS = (0, 2, 4, 7, 10, 14)
RAIN_FRICTION = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5)
RAIN_VIEW_KM = 0.05


def rain_haze(rate_mm_h: float) -> float:
    """Fraction of the image replaced by airlight in rain of ``rate_mm_h``."""
    return 0.0 if rate_mm_h <= 0 else 1.0 - math.exp(-0.25 * rate_mm_h ** 0.7 * RAIN_VIEW_KM)


class ImageEffect:
    """One corruption: ``start(rng, shape)`` at each episode, ``apply(img, rng)`` on each frame."""

    def start(self, rng: np.random.Generator, shape: tuple[int, ...]) -> None:
        pass

    def apply(self, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError


def _to_u8(x: np.ndarray) -> np.ndarray:
    return np.clip(x, 0.0, 255.0).astype(np.uint8)


class GaussianNoise(ImageEffect):
    def __init__(self, sigma: float) -> None:
        self.sigma = float(sigma)

    def apply(self, img, rng):
        return _to_u8(img + rng.standard_normal(img.shape, np.float32) * self.sigma)


class ShotNoise(ImageEffect):
    """Photon noise: variance proportional to the signal, ``photons`` electrons at level 255."""

    def __init__(self, photons: float) -> None:
        self.photons = float(photons)

    def apply(self, img, rng):
        x = img.astype(np.float32)
        return _to_u8(x + np.sqrt(x * (255.0 / self.photons)) * rng.standard_normal(img.shape, np.float32))


class MotionBlur(ImageEffect):
    """A line kernel of ``length`` px at an angle drawn per episode (mostly horizontal: yaw motion)."""

    def __init__(self, length: int) -> None:
        self.length = int(length)
        self.kernel = np.ones((1, 1), np.float32)

    def start(self, rng, shape):
        n = self.length
        k = np.zeros((n, n), np.float32)
        angle = rng.uniform(-math.pi / 6, math.pi / 6)
        c = (n - 1) / 2
        dx, dy = math.cos(angle) * c, math.sin(angle) * c
        cv2.line(k, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)), 1.0, 1)
        self.kernel = k / k.sum()

    def apply(self, img, rng):
        return cv2.filter2D(img, -1, self.kernel, borderType=cv2.BORDER_REFLECT)


def row_distances(height: int, camera: Sequence[float] = DEFAULT_CAMERA, far: float = 30.0) -> np.ndarray:
    """Distance (m) along each image row's central ray to the road plane; ``far`` above the horizon."""
    h, pitch, fovy = camera
    rows = (np.arange(height) + 0.5 - height / 2) / (height / 2)  # -1 (top) .. 1 (bottom)
    down = pitch + np.arctan(rows * math.tan(fovy / 2))
    return np.where(down > 1e-3, h / np.sin(np.maximum(down, 1e-3)), far).clip(max=far)


class Fog(ImageEffect):
    """Koschmieder's law with per-row distances from the camera geometry; visibility V in m."""

    def __init__(self, visibility: float, camera: Sequence[float] = DEFAULT_CAMERA) -> None:
        self.visibility, self.camera = float(visibility), tuple(camera)
        self.t = np.ones((1, 1, 1), np.float32)

    def start(self, rng, shape):
        d = row_distances(shape[0], self.camera)
        self.t = np.exp(-3.912 * d / self.visibility).astype(np.float32)[:, None, None]

    def apply(self, img, rng):
        return _to_u8(img * self.t + AIRLIGHT * (1.0 - self.t))


class BrightnessContrast(ImageEffect):
    """I' = (I - 128) x factor + 128 + delta, the sign of delta drawn per episode."""

    def __init__(self, delta: float, factor: float) -> None:
        self.delta, self.factor = float(delta), float(factor)
        self.lut = np.arange(256, dtype=np.uint8)

    def start(self, rng, shape):
        sign = 1.0 if rng.integers(2) else -1.0
        x = np.arange(256, dtype=np.float32)
        self.lut = _to_u8((x - 128.0) * self.factor + 128.0 + sign * self.delta)

    def apply(self, img, rng):
        return cv2.LUT(img, self.lut)


class Occlusion(ImageEffect):
    """Dark mud blobs (ellipses) covering about ``fraction`` of the image, fixed per episode."""

    def __init__(self, fraction: float) -> None:
        self.fraction = float(fraction)
        self.mask = np.zeros((1, 1), bool)
        self.colour = np.zeros(3, np.uint8)

    def start(self, rng, shape):
        h, w = shape[:2]
        mask = np.zeros((h, w), np.uint8)
        for _ in range(200):
            if mask.mean() >= self.fraction:
                break
            r = rng.uniform(0.05, 0.15) * h * (1 + 2 * self.fraction)
            centre = (int(rng.integers(w)), int(rng.integers(h)))
            axes = (max(1, int(r * rng.uniform(0.7, 1.6))), max(1, int(r)))
            cv2.ellipse(mask, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
        self.mask = mask.astype(bool)
        self.colour = rng.uniform(30, 70, 3).astype(np.uint8)

    def apply(self, img, rng):
        out = img.copy()
        out[self.mask] = self.colour
        return out


class Jpeg(ImageEffect):
    def __init__(self, quality: int) -> None:
        self.quality = int(quality)

    def apply(self, img, rng):
        ok, buf = cv2.imencode(".jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:  # pragma: no cover - OpenCV always encodes a valid uint8 image
            raise LiquidControlError("JPEG encoding failed.")
        return np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])


class CameraRain(ImageEffect):
    """Darkening, haze, streaks and lens drops of rain at severity 1-5 (see the module docstring)."""

    LAYERS = 4

    def __init__(self, severity: int) -> None:
        self.severity = int(severity)
        self.darken = RAIN_DARKEN[severity]
        self.haze = rain_haze(RAIN_RATES[severity])
        self.layers = np.zeros((1, 1, 1), np.float32)
        self.drops = np.zeros((0, 4), np.float32)  # x, y, radius, speed (px / frame)

    def start(self, rng, shape):
        h, w = shape[:2]
        n, length = RAIN_STREAKS[self.severity], RAIN_STREAK_PX[self.severity]
        slant = rng.uniform(-math.radians(20), math.radians(20))
        layers = np.zeros((self.LAYERS, h, w), np.float32)
        for layer in layers:
            xs, ys = rng.uniform(0, w, n), rng.uniform(-length, h, n)
            ls = length * rng.uniform(0.7, 1.3, n)
            for x, y, ell in zip(xs, ys, ls):
                cv2.line(layer, (int(x), int(y)), (int(x + ell * math.sin(slant)), int(y + ell * math.cos(slant))),
                         1.0, 1, cv2.LINE_AA)
        self.layers = np.clip(layers, 0, 1) * 0.35
        k = RAIN_DROPS[self.severity]
        self.drops = np.stack([rng.uniform(0, w, k), rng.uniform(0, h, k), rng.uniform(3, 7, k),
                               rng.uniform(0.0, 0.4, k)], axis=1).astype(np.float32) if k else np.zeros((0, 4), np.float32)
        # Pixel offsets inside each drop (fixed radii), all drops concatenated: which drop, dy, dx.
        parts = []
        for j, r in enumerate(self.drops[:, 2]):
            ry = int(np.ceil(r))
            dy, dx = np.mgrid[-ry:ry + 1, -ry:ry + 1]
            inside = dy * dy + dx * dx <= r * r
            parts.append(np.stack([np.full(inside.sum(), j), dy[inside], dx[inside]], axis=1))
        self._drop_pixels = np.concatenate(parts) if parts else np.zeros((0, 3), np.intp)

    def apply(self, img, rng):
        h, w = img.shape[:2]
        # Darkening and haze in one affine map, then the streaks towards white.
        x = img.astype(np.float32) * (self.darken * (1.0 - self.haze)) + AIRLIGHT * self.darken * self.haze
        layer = self.layers[int(rng.integers(self.LAYERS))]
        layer = np.roll(layer, (int(rng.integers(h)), int(rng.integers(w))), axis=(0, 1))[..., None]
        x += (255.0 - x) * layer
        if len(self.drops):
            # Each drop shows a blurred view of its surroundings, inverted and 2.5x wider (a tiny lens).
            blurred = cv2.blur(x, (5, 5))
            px = self._drop_pixels
            cx, cy = np.round(self.drops[px[:, 0], 0]).astype(np.intp), np.round(self.drops[px[:, 0], 1]).astype(np.intp)
            ty, tx = cy + px[:, 1], cx + px[:, 2]
            keep = (ty >= 0) & (ty < h) & (tx >= 0) & (tx < w)
            sy = np.clip(cy - (px[:, 1] * 5) // 2, 0, h - 1)
            sx = np.clip(cx - (px[:, 2] * 5) // 2, 0, w - 1)
            x[ty[keep], tx[keep]] = blurred[sy[keep], sx[keep]] * 0.9 + 20.0
            self.drops[:, 1] += self.drops[:, 3]
            gone = self.drops[:, 1] - self.drops[:, 2] > h
            self.drops[gone, 1] = -self.drops[gone, 2]
        return _to_u8(x)


class ImageCorruption(PerturbationWrapper):
    """Apply ``effect`` to the uint8 image keys of a Dict observation (``keys``: some of them)."""

    def __init__(self, env: gym.Env, effect: ImageEffect, seed: SeedLike = 0,
                 keys: Sequence[str] | None = None) -> None:
        super().__init__(env, seed)
        space = env.observation_space
        spaces_by_key: dict[str, Any] = dict(getattr(space, "spaces", {}))
        images = [k for k, s in spaces_by_key.items()
                  if isinstance(s, gym.spaces.Box) and s.dtype == np.uint8 and len(s.shape) == 3]
        if not images:
            shape = getattr(space, "shape", None)
            raise LiquidControlError(f"{type(effect).__name__} needs an image observation (a Dict with a uint8 "
                                     f"[H, W, 3] key); this env observes a {type(space).__name__}"
                                     + (f" of shape {tuple(shape)}." if shape else "."))
        if keys is not None:
            unknown = sorted(set(keys) - set(images))
            if unknown:
                raise LiquidControlError(f"image keys {unknown} are not among this env's images {images}.")
            images = [k for k in images if k in keys]
        self.effect, self.image_keys = effect, images
        self.shape = spaces_by_key[images[0]].shape

    def on_reset(self, obs: Any) -> Any:
        self.effect.start(self.rng, self.shape)
        return self.on_step(obs)

    def on_step(self, obs: Any) -> Any:
        out = dict(obs)
        for k in self.image_keys:
            out[k] = self.effect.apply(obs[k], self.rng)
        return out


def _build(make_effect: Any) -> Any:
    def build(env: gym.Env, level: Any, seed: list[int], groups: Any, keys: Sequence[str] | None = None) -> gym.Env:
        return ImageCorruption(env, make_effect(level), seed, keys)
    return build


def _rain(env: gym.Env, level: dict[str, Any], seed: list[int], groups: Any,
          keys: Sequence[str] | None = None) -> gym.Env:
    """Wet road (inner), then the camera (outer)."""
    env = PhysicsScale(env, friction_scale=level["friction"])
    return ImageCorruption(env, CameraRain(level["severity"]), seed, keys)


def _rain_text(level: dict[str, Any], _period: float) -> str:
    s = level["severity"]
    return (f"{RAIN_RATES[s]:g} mm/h: image x{RAIN_DARKEN[s]:.2f}, haze {100 * rain_haze(RAIN_RATES[s]):.1f} %, "
            f"{RAIN_STREAKS[s]} streaks of {RAIN_STREAK_PX[s]} px per 64x128 frame, {RAIN_DROPS[s]} lens drops, "
            f"road friction x{level['friction']:.2f}")


SPECS = [
    PerturbationSpec(
        "camera_rain", "image", "rain: darkening, haze, streaks, drops on the lens and a wet road",
        tuple({"severity": s, "friction": f} for s, f in enumerate(RAIN_FRICTION)),
        _rain, _rain_text, accepts_keys=True,
    ),
    PerturbationSpec(
        "image_noise", "image", "Gaussian read noise per pixel and channel", (0.0, 4.0, 8.0, 16.0, 24.0, 40.0),
        _build(GaussianNoise), lambda lv, _p: f"sigma {lv:g} grey levels", accepts_keys=True,
    ),
    PerturbationSpec(
        "shot_noise", "image", "photon (shot) noise of a dim scene", (math.inf, 400.0, 150.0, 60.0, 25.0, 10.0),
        _build(ShotNoise), lambda lv, _p: f"{lv:g} photo-electrons at full scale (SNR {math.sqrt(lv):.0f} in white)",
        accepts_keys=True,
    ),
    PerturbationSpec(
        "motion_blur", "image", "blur of a moving or vibrating camera (line kernel, angle per episode)",
        (1, 3, 5, 7, 9, 13), _build(MotionBlur), lambda lv, _p: f"{lv} px blur length", accepts_keys=True,
    ),
    PerturbationSpec(
        "fog", "image", "fog by Koschmieder's law over the road's distance per image row",
        (math.inf, 20.0, 10.0, 5.0, 3.0, 1.5), _build(Fog),
        lambda lv, _p: f"visibility {lv:g} m (half the contrast lost at {lv * 0.177:.2f} m)", accepts_keys=True,
    ),
    PerturbationSpec(
        "brightness_contrast", "image", "exposure and contrast error, the sign of the shift drawn per episode",
        tuple({"delta": d, "factor": f} for d, f in
              [(0.0, 1.0), (20.0, 0.9), (35.0, 0.8), (50.0, 0.7), (70.0, 0.6), (90.0, 0.5)]),
        _build(lambda lv: BrightnessContrast(lv["delta"], lv["factor"])),
        lambda lv, _p: f"brightness ±{lv['delta']:g} levels, contrast x{lv['factor']:g}", accepts_keys=True,
    ),
    PerturbationSpec(
        "occlusion", "image", "mud blobs on the lens, fixed per episode", (0.0, 0.02, 0.05, 0.10, 0.20, 0.30),
        _build(Occlusion), lambda lv, _p: f"about {100 * lv:g} % of the image covered", accepts_keys=True,
    ),
    PerturbationSpec(
        "jpeg", "image", "JPEG compression artefacts", (100, 60, 35, 20, 10, 5),
        _build(Jpeg), lambda lv, _p: f"JPEG quality {lv}", accepts_keys=True,
    ),
]

#: The camera perturbations registered here.
IMAGE_PERTURBATIONS = tuple(spec.name for spec in SPECS)

for _spec in SPECS:
    register_perturbation(_spec, replace=True)
