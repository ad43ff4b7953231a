"""Closed roads for the driving task: drawn from a seed, painted into the ground texture.

A track is a smooth closed curve (a circle of radius ``R0`` whose radius is
modulated by a few random harmonics), checked for a least radius of
curvature, driven counter-clockwise or clockwise. The road has two lanes;
the car keeps the right-hand one. Everything the env, the expert and the
texture need is precomputed once per track on a polyline of ``N_POINTS``
points of the *lane centre*:

* ``xy`` (N, 2) lane-centre points, m, world frame; ``s`` (N,) arc length
  from point 0; ``length`` the lap length;
* ``tangent`` / ``normal`` (N, 2) unit vectors (normal points left of the
  driving direction); ``curvature`` (N,) 1/m, positive turning left;
* ``road_centre_offset``: the road's centre line lies this far left of the
  lane centre (half a lane width).

:func:`paint_ground` rasterises road, edge lines, the dashed centre line,
grass and gravel shoulders into an RGB image for the ground plane.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

N_POINTS = 1024
RADIUS_RANGE = (3.2, 4.2)  # m, mean radius of the loop (lap 19-27 m)
HARMONICS = (2, 3, 4)
AMPLITUDE_MAX = (0.22, 0.12, 0.06)  # fraction of the radius, per harmonic
MIN_RADIUS = 1.4  # m, least radius of curvature of the lane centre
LANE_WIDTH_RANGE = (0.55, 0.70)  # m (car width 0.26 m)
LINE_WIDTH = 0.04  # m, painted lines
DASH = (0.30, 0.30)  # m, centre-line dash and gap
GROUND_EXTENT = 7.0  # m, the ground plane spans [-7, 7] m in x and y


@dataclass(frozen=True)
class Track:
    """A closed two-lane road (see the module docstring); all lengths in metres."""

    xy: np.ndarray
    s: np.ndarray
    tangent: np.ndarray
    normal: np.ndarray
    curvature: np.ndarray
    length: float
    lane_width: float
    clockwise: bool

    @property
    def road_centre_offset(self) -> float:
        """The road centre line is this far left of the lane centre."""
        return 0.5 * self.lane_width

    def project(self, x: float, y: float, hint: int | None = None, window: int = 40) -> tuple[int, float, float]:
        """Nearest lane-centre point to (x, y): (index, signed lateral offset m (+ left), arc length m).

        With ``hint`` (the previous index) only ``window`` points either side are searched.
        """
        n = len(self.s)
        if hint is None:
            d = (self.xy[:, 0] - x) ** 2 + (self.xy[:, 1] - y) ** 2
            i = int(np.argmin(d))
        else:
            idx = np.arange(hint - window, hint + window + 1) % n
            d = (self.xy[idx, 0] - x) ** 2 + (self.xy[idx, 1] - y) ** 2
            i = int(idx[int(np.argmin(d))])
        px, py = self.xy[i]
        tx, ty = self.tangent[i]
        nx, ny = self.normal[i]
        along = (x - px) * tx + (y - py) * ty
        lateral = (x - px) * nx + (y - py) * ny
        return i, float(lateral), float(self.s[i] + along)

    def ahead(self, i: int, distance: float) -> int:
        """Index of the lane-centre point ``distance`` m of arc ahead of point ``i``."""
        step = self.length / len(self.s)
        return (i + int(round(distance / step))) % len(self.s)


def generate_track(rng: np.random.Generator) -> Track:
    """A track drawn from ``rng``; redrawn (same generator) until its least radius of curvature is
    at least ``MIN_RADIUS``."""
    lane = float(rng.uniform(*LANE_WIDTH_RANGE))
    clockwise = bool(rng.integers(2))
    for _ in range(100):
        r0 = rng.uniform(*RADIUS_RANGE)
        amps = [rng.uniform(0.0, a) for a in AMPLITUDE_MAX]
        phases = rng.uniform(0.0, 2 * math.pi, len(HARMONICS))
        theta = np.linspace(0.0, 2 * math.pi, 4 * N_POINTS, endpoint=False)
        r = r0 * (1.0 + sum(a * np.cos(k * theta + p) for a, k, p in zip(amps, HARMONICS, phases)))
        road = np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1)
        if clockwise:
            road = road[::-1].copy()
        track = _lane_track(road, lane, clockwise)
        if track is not None:
            return track
    raise RuntimeError("could not draw a track with the least radius of curvature")  # pragma: no cover


def _lane_track(road: np.ndarray, lane: float, clockwise: bool) -> Track | None:
    """Resample the road centre evenly, offset it half a lane to the right, check the curvature."""
    road = _resample(road, N_POINTS)
    t, nrm, _ = _frame(road)
    lane_xy = _resample(road - 0.5 * lane * nrm, N_POINTS)
    tangent, normal, curvature = _frame(lane_xy)
    if np.min(1.0 / np.maximum(np.abs(curvature), 1e-9)) < MIN_RADIUS:
        return None
    seg = np.linalg.norm(np.roll(lane_xy, -1, axis=0) - lane_xy, axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)[:-1]])
    return Track(lane_xy, s, tangent, normal, curvature, float(seg.sum()), lane, clockwise)


def _resample(points: np.ndarray, n: int) -> np.ndarray:
    """``n`` points evenly spaced in arc length along the closed polyline ``points``."""
    closed = np.vstack([points, points[:1]])
    seg = np.linalg.norm(np.diff(closed, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    target = np.linspace(0.0, s[-1], n, endpoint=False)
    return np.stack([np.interp(target, s, closed[:, 0]), np.interp(target, s, closed[:, 1])], axis=1)


def _frame(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit tangents, left normals and signed curvature of a closed, evenly sampled polyline."""
    d1 = (np.roll(xy, -1, axis=0) - np.roll(xy, 1, axis=0)) / 2.0
    d2 = np.roll(xy, -1, axis=0) - 2.0 * xy + np.roll(xy, 1, axis=0)
    speed = np.linalg.norm(d1, axis=1)
    tangent = d1 / speed[:, None]
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
    curvature = (d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0]) / speed ** 3
    return tangent, normal, curvature


def _to_pixels(xy: np.ndarray, size: int) -> np.ndarray:
    """World (x, y) m -> texture pixel (column, row) in 1/16 px fixed point (cv2 ``shift=4``).
    Row 0 of the texture is at y = +GROUND_EXTENT (MuJoCo maps the image's first row to +y)."""
    scale = size / (2 * GROUND_EXTENT)
    col = (xy[:, 0] + GROUND_EXTENT) * scale
    row = (GROUND_EXTENT - xy[:, 1]) * scale
    return np.round(np.stack([col, row], axis=1) * 16).astype(np.int32)


_GRAIN: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _grain(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Coarse blotches (upsampled noise) and fine speckle, unit variance, made once per size."""
    if size not in _GRAIN:
        rng = np.random.default_rng(20261201)
        coarse = cv2.resize(rng.standard_normal((size // 32, size // 32), np.float32), (size, size),
                            interpolation=cv2.INTER_CUBIC)
        _GRAIN[size] = (coarse, rng.standard_normal((size, size), np.float32))
    return _GRAIN[size]


GRASS, GRAVEL, LINE, ASPHALT, DASHES = 0, 1, 2, 3, 4


def paint_ground(track: Track, rng: np.random.Generator, size: int = 1024) -> np.ndarray:
    """The ground texture (size x size x 3 uint8): grass, gravel shoulders, asphalt, white edge lines,
    a dashed centre line (white or yellow), with colours and grain drawn from ``rng``.

    A label map is rasterised (cv2 polylines, no antialiasing: labels must not blend), then coloured
    through a lookup table; the grain is one fixed pattern per size, shifted per track."""
    px_per_m = size / (2 * GROUND_EXTENT)
    colours = np.zeros((5, 3), np.float32)
    colours[GRASS] = (rng.uniform(60, 90), rng.uniform(110, 150), rng.uniform(50, 80))
    colours[GRAVEL] = (150, 140, 120)
    colours[LINE] = 235.0
    colours[ASPHALT] = rng.uniform(70, 110)
    colours[DASHES] = (235.0, 235.0, 235.0) if rng.integers(2) else (230.0, 190.0, 40.0)
    coarse_amp = np.array([14.0, 4.0, 0.0, 4.0, 0.0], np.float32)
    fine_amp = np.array([8.0, 10.0, 0.0, 6.0, 0.0], np.float32)
    coarse, fine = _grain(size)
    shift = tuple(int(v) for v in rng.integers(0, size, 2))
    coarse, fine = np.roll(coarse, shift, axis=(0, 1)), np.roll(fine, shift[::-1], axis=(0, 1))

    centre = track.xy + track.road_centre_offset * track.normal
    road_px = _to_pixels(centre, size).reshape(-1, 1, 2)
    label = np.zeros((size, size), np.uint8)
    road_w = 2 * track.lane_width
    for width_m, value in ((road_w + 0.30, GRAVEL), (road_w + 2 * LINE_WIDTH, LINE), (road_w, ASPHALT)):
        cv2.polylines(label, [road_px], True, value, thickness=max(1, int(round(width_m * px_per_m))),
                      lineType=cv2.LINE_8, shift=4)
    # Dashed centre line along the road centre.
    period = DASH[0] + DASH[1]
    s = np.linspace(0.0, track.length, 4 * N_POINTS, endpoint=False)
    on = (s % period) < DASH[0]
    closed_s = np.append(track.s, track.length)
    cx = np.interp(s, closed_s, np.append(centre[:, 0], centre[0, 0]))
    cy = np.interp(s, closed_s, np.append(centre[:, 1], centre[0, 1]))
    pts = _to_pixels(np.stack([cx, cy], axis=1), size)
    edges = np.flatnonzero(np.diff(on.astype(np.int8), append=on[:1].astype(np.int8)))
    starts, ends = edges[~on[edges]] + 1, edges[on[edges]] + 1
    dashes = []
    for a in starts:
        later = ends[ends > a]
        b = int(later[0]) if len(later) else len(on)
        dashes.append(pts[a:b].reshape(-1, 1, 2))
    cv2.polylines(label, dashes, False, DASHES, thickness=max(1, int(round(LINE_WIDTH * px_per_m))),
                  lineType=cv2.LINE_8, shift=4)
    img = colours[label]
    img += (coarse_amp[label] * coarse + fine_amp[label] * fine)[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)
