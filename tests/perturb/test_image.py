"""Camera perturbations on the real driving env: deterministic per seed, growing with severity, doing what
their tables say, and refusing envs without images."""

from __future__ import annotations

import numpy as np
import pytest
from liquidcontrol.envs.driving import DrivingEnv
from liquidcontrol.envs.parking import ParkingEnv

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.perturb import make_perturbation
from liquidcontrol.perturb.image import (
    IMAGE_PERTURBATIONS,
    RAIN_DARKEN,
    RAIN_DROPS,
    RAIN_RATES,
    CameraRain,
    Fog,
    rain_haze,
    row_distances,
)


@pytest.fixture(scope="module")
def base():
    env = DrivingEnv()
    yield env
    env.close()


def _frames(env, name, severity, seed=0, episode=3, steps=3, pert_seed=0):
    wrapped = make_perturbation(name, severity, seed=pert_seed).apply(env) if severity else env
    obs, _ = wrapped.reset(seed=episode)
    frames, speeds = [obs["image"]], [obs["speed"]]
    for _ in range(steps):
        obs, *_ = wrapped.step(np.zeros(1, np.float32))
        frames.append(obs["image"])
        speeds.append(obs["speed"])
    return np.stack(frames), np.stack(speeds)


@pytest.mark.parametrize("name", IMAGE_PERTURBATIONS)
def test_deterministic_growing_and_images_only(base, name):
    clean, clean_speed = _frames(base, name, 0)
    change = []
    for severity in (1, 3, 5):
        a, speed = _frames(base, name, severity)
        b, _ = _frames(base, name, severity)
        np.testing.assert_array_equal(a, b)  # same seeds, same corruption
        assert a.dtype == np.uint8 and a.shape == clean.shape
        if name != "camera_rain":  # rain also wets the road, which changes the motion slightly
            np.testing.assert_array_equal(speed, clean_speed)
        change.append(np.abs(a.astype(int) - clean).mean())
    assert change[0] > 0.3, change
    assert change[0] < change[1] < change[2], (name, change)
    other, _ = _frames(base, name, 3, pert_seed=1)
    if name in ("camera_rain", "image_noise", "shot_noise", "motion_blur", "occlusion"):  # the random ones
        assert np.abs(other.astype(int) - _frames(base, name, 3)[0]).mean() > 0.0


def test_camera_rain_darkens_streaks_drops_and_wets_the_road(base):
    env = make_perturbation("camera_rain", 4).apply(base)
    assert base.car.friction_scale == pytest.approx(0.6)
    clean, _ = _frames(base, "camera_rain", 0)
    wet, _ = _frames(base, "camera_rain", 4)
    ratio = wet.astype(float).mean() / clean.astype(float).mean()
    assert 0.7 < ratio < 1.05  # darkening x0.70 with haze and bright streaks on top
    # Streaks: thin lines blended towards white, well above the darkened, hazy scene.
    k, h = RAIN_DARKEN[4], rain_haze(RAIN_RATES[4])
    hazy = clean.astype(float) * k * (1 - h) + 190.0 * k * h
    bright = (wet.astype(float) - hazy).min(-1) > 30
    assert 0.02 < bright.mean() < 0.4, bright.mean()
    env.reset(seed=3)
    effect = env.effect
    assert isinstance(effect, CameraRain) and len(effect.drops) == RAIN_DROPS[4]


def test_camera_rain_drops_persist_and_slide():
    effect = CameraRain(5)
    rng = np.random.default_rng(0)
    effect.start(rng, (64, 128, 3))
    y0 = effect.drops[:, 1].copy()
    img = np.full((64, 128, 3), 100, np.uint8)
    for _ in range(10):
        effect.apply(img, rng)
    moved = effect.drops[:, 1] - y0
    assert np.all((moved >= 0) | (effect.drops[:, 1] < 0)) and moved.max() > 0.5


def test_fog_hides_far_rows_more_than_near_ones():
    d = row_distances(64)
    # The bottom row's central ray: 20 deg of pitch plus (31.5 / 32) of the half field of view (27.5 deg).
    down = np.radians(20) + np.arctan(31.5 / 32 * np.tan(np.radians(27.5)))
    assert d[0] > d[40] > d[63] and d[63] == pytest.approx(0.20 / np.sin(down), rel=1e-9)
    fog = Fog(5.0)
    fog.start(np.random.default_rng(0), (64, 128, 3))
    black = np.zeros((64, 128, 3), np.uint8)
    out = fog.apply(black, np.random.default_rng(0)).astype(float)
    assert out[0].mean() > out[40].mean() > out[63].mean()
    # Koschmieder: at the visibility distance 2 % of the contrast is left.
    t = np.exp(-3.912 * d / 5.0)
    np.testing.assert_allclose(out[:, 0, 0], np.floor(190.0 * (1 - t)), atol=1.0)


def test_image_perturbations_refuse_envs_without_images():
    with pytest.raises(LiquidControlError, match="needs an image observation"):
        make_perturbation("fog", 2).apply(ParkingEnv())
    with pytest.raises(LiquidControlError, match="not among this env's images"):
        make_perturbation("fog", 2, keys=["speed"]).apply(DrivingEnv())
