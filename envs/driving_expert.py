"""Scripted driving expert: pure pursuit on the lane centre line, from the true state.

It reads ``env.unwrapped.true_state()`` and the track (never the camera):
from the rear axle it picks the lane-centre point ``lookahead`` metres of arc
ahead of the car's nearest point (``lookahead = base + gain x speed``) and
steers on the circle through it, delta = atan(2 L sin(alpha) / d), with L the
wheelbase, alpha the bearing of the point from the car's heading and d its
distance. It has no memory; ``reset()`` does nothing.
"""

from __future__ import annotations

import math

import numpy as np
from liquidcontrol.envs import parking_constants as pc


class PurePursuitExpert:
    """Privileged expert for ``liquidcontrol/Driving-v0`` (both observation modes).

    Args:
        lookahead: least lookahead distance, m.
        lookahead_gain: extra lookahead per m/s of speed, s.
        offset: follow a line this far left of the lane centre, m (0: the lane centre; tests use
            it to drive in the other lane).
    """

    def __init__(self, lookahead: float = 0.45, lookahead_gain: float = 0.35, offset: float = 0.0) -> None:
        self.lookahead, self.lookahead_gain, self.offset = lookahead, lookahead_gain, offset

    def reset(self) -> None:
        """No state to forget."""

    def act(self, env) -> np.ndarray:
        u = env.unwrapped
        s, track = u.true_state(), u.track
        c, si = math.cos(s.yaw), math.sin(s.yaw)
        rx, ry = s.x - 0.5 * pc.WHEELBASE * c, s.y - 0.5 * pc.WHEELBASE * si  # rear axle
        ahead = self.lookahead + self.lookahead_gain * max(s.speed, 0.0) + 0.5 * pc.WHEELBASE
        j = track.ahead(s.index, ahead)
        tx, ty = (track.xy[j] + self.offset * track.normal[j]).tolist()
        dx, dy = tx - rx, ty - ry
        forward, left = dx * c + dy * si, -dx * si + dy * c
        d2 = forward * forward + left * left
        delta = math.atan(2.0 * pc.WHEELBASE * left / max(d2, 1e-6))
        return np.array([min(max(delta / pc.MAX_STEER, -1.0), 1.0)], np.float32)
