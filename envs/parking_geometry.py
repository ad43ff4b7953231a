"""Numpy-only geometry of the parking task: slot layout, car footprint, arcs.

Used by the env (to place the parked cars) and by the expert's planner
(collision checks of candidate motions). Poses are ``(x, y, theta)`` of the
car centre in the slot frame: x along the curb, y away from it, metres and
radians. Everything here works on arrays of poses (broadcasting).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from liquidcontrol.envs.parking_constants import (
    CAR_LENGTH,
    CAR_WIDTH,
    CURB_Y,
    NEIGHBOUR_LENGTH,
    NEIGHBOUR_WIDTH,
    WHEELBASE,
)

HALF_WHEELBASE = 0.5 * WHEELBASE


@dataclass(frozen=True)
class SlotLayout:
    """Where the parked cars are: centre poses (x, y, yaw) in m and rad."""

    length: float  # m, bumper-to-bumper gap on the centre line
    rear_car: tuple[float, float, float]
    front_car: tuple[float, float, float]
    curb_y: float = CURB_Y

    @classmethod
    def centred(cls, length: float, rear_offset: tuple[float, float] = (0.0, 0.0),
                front_offset: tuple[float, float] = (0.0, 0.0)) -> SlotLayout:
        """Slot of ``length`` m centred on x = 0; offsets are (dy m, dyaw rad)."""
        half = 0.5 * (length + NEIGHBOUR_LENGTH)
        return cls(length, (-half, *rear_offset), (half, *front_offset))

    @cached_property
    def neighbour_corners(self) -> np.ndarray:
        """Corners of both parked cars, shape (8, 2), m (computed once per slot)."""
        poses = np.array([self.rear_car, self.front_car])
        return rectangle_corners(poses[:, 0], poses[:, 1], poses[:, 2], NEIGHBOUR_LENGTH,
                                 NEIGHBOUR_WIDTH).reshape(8, 2)


_UNIT_CORNERS = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, -1.0], [-1.0, 1.0]])


def rectangle_corners(x, y, theta, length: float, width: float, inflate: float = 0.0):
    """Corners of rectangles centred at (x, y) with heading theta: shape (..., 4, 2)."""
    local = _UNIT_CORNERS * (0.5 * length + inflate, 0.5 * width + inflate)
    c, s = np.cos(theta)[..., None], np.sin(theta)[..., None]
    px = np.asarray(x)[..., None] + c * local[:, 0] - s * local[:, 1]
    py = np.asarray(y)[..., None] + s * local[:, 0] + c * local[:, 1]
    return np.stack([px, py], axis=-1)


def points_in_rectangle(points, x, y, theta, length: float, width: float):
    """Which points (..., 2) lie inside the rectangle (centre x, y, heading theta)."""
    dx, dy = points[..., 0] - x, points[..., 1] - y
    c, s = np.cos(theta), np.sin(theta)
    along, across = c * dx + s * dy, -s * dx + c * dy
    return (np.abs(along) <= 0.5 * length) & (np.abs(across) <= 0.5 * width)


def footprint_collides(x, y, theta, slot: SlotLayout, margin: float = 0.0):
    """True where the car at (x, y, theta), grown by ``margin`` m, hits a parked car or the curb.

    Corner containment both ways is exact for the near-parallel rectangles
    of this task (crossing without a contained corner needs a "plus" shape).
    """
    x, y, theta = (np.asarray(v, float) for v in (x, y, theta))
    corners = rectangle_corners(x, y, theta, CAR_LENGTH, CAR_WIDTH, margin)
    hit = (corners[..., 1] < slot.curb_y).any(axis=-1)
    for cx, cy, cyaw in (slot.rear_car, slot.front_car):
        hit |= points_in_rectangle(corners, cx, cy, cyaw, NEIGHBOUR_LENGTH,
                                   NEIGHBOUR_WIDTH).any(axis=-1)
    theirs = slot.neighbour_corners
    inside = points_in_rectangle(theirs, x[..., None], y[..., None], theta[..., None],
                                 CAR_LENGTH + 2 * margin, CAR_WIDTH + 2 * margin)
    return hit | inside.any(axis=-1)


def arc_poses(x, y, theta, curvature, distances):
    """Centre poses after driving signed ``distances`` (m, < 0 reverses) at fixed curvature (1/m).

    Exact bicycle-model arcs of the rear axle; curvature and distances
    broadcast against each other. Returns arrays (x, y, theta).
    """
    d, k = np.asarray(distances, float), np.asarray(curvature, float)
    xr, yr = x - HALF_WHEELBASE * np.cos(theta), y - HALF_WHEELBASE * np.sin(theta)
    th = theta + k * d
    straight = np.abs(k) < 1e-6
    safe_k = np.where(straight, 1.0, k)  # the straight-line limit replaces 0/0
    dx = np.where(straight, d * np.cos(theta), (np.sin(th) - np.sin(theta)) / safe_k)
    dy = np.where(straight, d * np.sin(theta), (np.cos(theta) - np.cos(th)) / safe_k)
    xr, yr = xr + dx, yr + dy
    return xr + HALF_WHEELBASE * np.cos(th), yr + HALF_WHEELBASE * np.sin(th), th
