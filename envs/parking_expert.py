"""Scripted parallel-parking expert: a re-planning state-feedback controller.

Every call works from the true state alone (pose, speed, slot), so DAgger can
ask it about any state a learner drove to. The only "memory" is the sign of
the car's current speed, which is part of the state: it keeps a started move
going until its planned end (hysteresis without hidden variables).

The manoeuvre, in the slot frame (x along the curb, y away from it):

1. **Lane**: reverse straight along the lane and turn in at full right lock
   once the rear axle is ``turn_in`` m ahead of the front car's rear corner
   (with that corner inside the car's inner turning circle). A car behind
   that point first drives forward, 12 cm past it, so the restart is clean.
2. **Entry**: the reverse S-curve as a feedback law: the heading the car
   should have is a function of its lateral offset (the heading from which
   straightening at the planning curvature ends on the centre line). The
   counter-steer waits until the nose would swing clear of the front car.
3. **In the slot**: shuffle forward and back, each move a small S towards the
   centre line (its heading capped by what the move can undo before it must
   stop), then centre along the slot and stop. A car boxed in anywhere
   shuffles the same way.

Every commanded curvature is checked on the numpy kinematic model
(``parking_geometry``) over 0.6 m of travel; if the car would come within
``margin`` of a parked car or the curb, the nearest curvature with room is
used instead, and the speed ramps down to stop before the obstacle, so
reversals are gentle. Steering is proportional and saturated.
"""

from __future__ import annotations

import math

import numpy as np
from liquidcontrol.envs import parking_constants as pc
from liquidcontrol.envs.parking_geometry import (
    HALF_WHEELBASE,
    SlotLayout,
    arc_poses,
    footprint_collides,
)

KAPPA_MAX = math.tan(pc.MAX_STEER) / pc.WHEELBASE  # 1/m, full lock
LOOKAHEAD = np.linspace(0.0, 0.6, 41)  # m of travel checked for collisions
MIN_MOVE = 0.06  # m, shortest move worth starting


class ParallelParkingExpert:
    """Privileged expert for ``liquidcontrol/Parking-v0``.

    Args:
        lane_speed: cruise speed outside the slot, m/s.
        slot_speed: speed for moves inside the slot, m/s.
        margin: clearance kept to parked cars and the curb, m.
        plan_curvature: fraction of full lock used for the straightening arc
            (the rest is steering authority left for feedback).
        turn_in: how far (m) ahead of the front car's rear corner the rear
            axle is when the full-lock reverse turn-in starts (5 cm more in
            slots under 0.84 m, blended in from 0.90 m).
        brake: deceleration (m/s^2) the speed profile plans for before an obstacle.
        align: (|y| m, |theta| rad) below which shuffling stops and the car
            only centres along the slot (tighter than the success tolerance).
        heading_gain: curvature (1/m) commanded per radian of heading error,
            before saturation at full lock.
        speed_gain: extra braking command per m/s the car runs above the
            planned speed (beyond a 3 cm/s dead band).
    """

    def __init__(self, lane_speed: float = 0.35, slot_speed: float = 0.22, margin: float = 0.03,
                 plan_curvature: float = 0.95, turn_in: float = 0.3, brake: float = 0.8,
                 align: tuple[float, float] = (0.03, 0.06), heading_gain: float = 8.0,
                 speed_gain: float = 0.0) -> None:
        self.lane_speed, self.slot_speed, self.margin = lane_speed, slot_speed, margin
        self.kappa_plan = plan_curvature * KAPPA_MAX
        self.turn_in, self.brake, self.align = turn_in, brake, align
        self.heading_gain, self.speed_gain = heading_gain, speed_gain

    def reset(self) -> None:
        """Nothing to forget: the expert keeps no state between calls."""

    def act(self, env) -> np.ndarray:
        """Action in [-1, 1]^2 (steering, speed) for the env's current true state."""
        u = env.unwrapped
        x, y, theta = u.car_pose
        return self.act_from_state(x, y, theta, u.car_speed, u.slot)

    def act_from_state(self, x: float, y: float, theta: float, speed: float,
                       slot: SlotLayout) -> np.ndarray:
        """Action for car centre pose (m, m, rad) and speed (m/s) in ``slot``."""
        theta = math.atan2(math.sin(theta), math.cos(theta))
        if self._in_slot(x, y, theta, slot):
            kappa, speed_cmd = self._in_slot_command(x, y, theta, speed, slot)
        else:
            kappa, speed_cmd = self._lane_command(x, y, theta, speed, slot)
        # A car running more than 3 cm/s faster than planned (a learner's habit,
        # a biased ESC) is told to brake harder. Only then: feedback on every
        # small speed error would make the speed labels chatter.
        if speed * speed_cmd >= 0.0:
            excess = abs(speed) - abs(speed_cmd) - 0.03
            if excess > 0.0:
                speed_cmd -= math.copysign(self.speed_gain * excess, speed)
        steer = math.atan(pc.WHEELBASE * kappa) / pc.MAX_STEER
        return np.array([min(max(steer, -1.0), 1.0), speed_cmd / pc.MAX_SPEED], np.float32)

    # ------------------------------------------------------------ steering laws
    def _heading_for_offset(self, e: float) -> float:
        """Heading (rad) from which a straightening arc ends on the centre line.

        e is the rear axle's lateral offset (m). Far out this is the exact
        arc geometry 1 - cos(theta) = kappa * e; near the line it is linear so
        the final approach is smooth instead of a square-root cusp.
        """
        mag = abs(e)
        arc = math.acos(max(1.0 - self.kappa_plan * mag, -1.0)) if mag < 1.0 / self.kappa_plan \
            else 0.5 * math.pi
        return math.copysign(min(arc, 4.0 * mag, 1.1), e)

    def _reverse_curvature(self, e: float, theta: float, gate: float = 1.0,
                           cap: float = math.pi) -> float:
        """Curvature (1/m) that, reversing, steers the heading to gate * its target.

        ``cap`` (rad) bounds the target heading, see :meth:`_heading_caps`.
        """
        target = min(max(gate * self._heading_for_offset(e), -cap), cap)
        return self._clip_kappa(self.heading_gain * (theta - target))

    def _forward_curvature(self, e: float, theta: float, cap: float = math.pi) -> float:
        """Curvature (1/m) that, driving forward, steers towards the centre line."""
        target = min(max(-self._heading_for_offset(e), -cap), cap)
        return self._clip_kappa(-self.heading_gain * (theta - target))

    def _heading_caps(self, x: float, y: float, theta: float,
                      slot: SlotLayout) -> tuple[float, float]:
        """Largest heading (rad) a move can build up and still undo before it must stop.

        Without it, short moves in a tight slot end with the wheels still
        locked and the next move retraces the same arc back (a limit cycle);
        with it, each move is a small S that ends straight, so sideways
        corrections add up from move to move. Returns (forward cap, reverse cap).
        """
        free = self._free_distances(x, y, theta, (0.0, 0.0), np.array([[1.0], [-1.0]]), slot)
        fwd, rev = (max(0.5 * KAPPA_MAX * (f - 0.02), 0.05) for f in free.tolist())
        return fwd, rev

    @staticmethod
    def _clip_kappa(kappa: float) -> float:
        return min(max(kappa, -KAPPA_MAX), KAPPA_MAX)

    # ------------------------------------------------------------ geometry
    def _free_distances(self, x: float, y: float, theta: float, kappas, direction,
                        slot: SlotLayout) -> np.ndarray:
        """Travel (m) at each curvature before the car, kept ``margin`` away, hits something.

        ``direction`` is +1 (forward), -1 (reverse) or one sign per curvature,
        shape (n, 1). If the car is already closer than ``margin`` (pushed there by a learner
        or noise), the largest smaller margin it still respects is used, so it
        can always drive away instead of freezing.
        """
        k = np.asarray(kappas, float)[:, None]
        xs, ys, ths = arc_poses(x, y, theta, k, direction * LOOKAHEAD[None, :])
        for margin in (self.margin, 0.5 * self.margin, 0.005, 0.0):
            hit = footprint_collides(xs, ys, ths, slot, margin)
            if not hit[0, 0]:  # the start pose (distance 0) respects this margin
                break
        first = np.where(hit.any(axis=1), np.argmax(hit, axis=1) - 1, len(LOOKAHEAD) - 1)
        return LOOKAHEAD[np.maximum(first, 0)]

    def _steer_clear(self, x: float, y: float, theta: float, kappa: float, direction: int,
                     slot: SlotLayout) -> tuple[float, float]:
        """The wanted curvature if it has room, else the nearest one that does.

        Returns (curvature 1/m, free travel m). Candidates are the wanted one
        and five fixed ones from full right to full left lock.
        """
        candidates = np.array([kappa, -KAPPA_MAX, -0.5 * KAPPA_MAX, 0.0, 0.5 * KAPPA_MAX,
                               KAPPA_MAX])
        free = self._free_distances(x, y, theta, candidates, direction, slot)
        if free[0] >= MIN_MOVE:
            return kappa, float(free[0])
        ok = free >= MIN_MOVE
        if not ok.any():
            return kappa, float(free[0])
        cost = np.abs(candidates - kappa) + np.where(ok, 0.0, 1e3)
        best = int(np.argmin(cost))
        return float(candidates[best]), float(free[best])

    def _speed_for(self, free: float, cruise: float) -> float:
        """Speed (m/s) from which braking at ``brake`` m/s^2 stops within the free distance."""
        return min(cruise, math.sqrt(max(2.0 * self.brake * free, 0.0)))

    @staticmethod
    def _in_slot(x: float, y: float, theta: float, slot: SlotLayout) -> bool:
        half = 0.5 * slot.length + 0.1
        rear_axle_y = y - HALF_WHEELBASE * math.sin(theta)
        return rear_axle_y < 0.22 and abs(x) < half and -0.5 < theta < 1.2

    # ------------------------------------------------------------ phases
    def _lane_command(self, x: float, y: float, theta: float, speed: float,
                      slot: SlotLayout) -> tuple[float, float]:
        """Outside the slot: reverse into it, or first drive forward to a start point."""
        xr, yr = x - HALF_WHEELBASE * math.cos(theta), y - HALF_WHEELBASE * math.sin(theta)
        clearance = self._corner_clearance(xr, yr, theta, slot)
        px, _ = self._front_corner(slot)
        # Short slots need the turn-in a little earlier, so the car ends deeper.
        turn_in = self.turn_in + 0.05 * min(max((0.9 - slot.length) / 0.06, 0.0), 1.0)
        ahead = xr - px - turn_in  # m past the turn-in point (negative: behind it)
        if speed > 0.03:  # a forward move goes on past the start point, for a clean restart
            too_far_back = ahead < 0.12 and theta < 0.3
        elif speed < -0.03:  # a reverse move that missed its turn-in (e.g. pushed off course)
            too_far_back = ahead < -0.15 and theta < 0.1
        else:
            too_far_back = ahead < -0.03 and theta < 0.3
        if too_far_back:
            return self._lane_forward(x, y, theta, speed, slot)
        # Turn in at full right lock once past the turn-in point, if the front
        # car's corner is then inside the inner circle.
        gate = min(max(-ahead / 0.03, 0.0), 1.0) if clearance > 0.0 else 0.0
        wanted = self._reverse_curvature(yr, theta, gate)
        if theta > 0.1 and not self._swing_clear(xr, yr, theta, slot):
            wanted = -KAPPA_MAX  # keep turning in until the nose can swing past the front car
        kappa, free = self._steer_clear(x, y, theta, wanted, -1, slot)
        if free < 0.02:  # boxed in: pull forward and let the next calls re-plan
            return self._lane_forward(x, y, theta, speed, slot)
        return kappa, -self._speed_for(free, self.lane_speed)

    def _lane_forward(self, x: float, y: float, theta: float, speed: float,
                      slot: SlotLayout) -> tuple[float, float]:
        """Drive forward along the lane, straightening and keeping 0.40-0.65 m from the parked cars.

        Boxed in ahead (e.g. nose against the front car), it shuffles as in
        the slot instead, so it never waits for room that will not come.
        """
        yr = y - HALF_WHEELBASE * math.sin(theta)
        wanted = self._forward_curvature(yr - min(max(yr, 0.4), 0.65), theta)
        kappa, free = self._steer_clear(x, y, theta, wanted, 1, slot)
        if free < 0.02:
            return self._in_slot_command(x, y, theta, speed, slot)
        return kappa, self._speed_for(free, self.lane_speed)

    @staticmethod
    def _front_corner(slot: SlotLayout) -> tuple[float, float]:
        """The front car's rear corner on the lane side (m)."""
        fx, fy, fyaw = slot.front_car
        hl, hw = 0.5 * pc.NEIGHBOUR_LENGTH, 0.5 * pc.NEIGHBOUR_WIDTH
        return (fx - hl * math.cos(fyaw) - hw * math.sin(fyaw),
                fy - hl * math.sin(fyaw) + hw * math.cos(fyaw))

    def _swing_clear(self, xr: float, yr: float, theta: float, slot: SlotLayout) -> bool:
        """Whether straightening now (reversing, left lock) swings the nose clear of the front car."""
        px, py = self._front_corner(slot)
        r2 = 1.0 / KAPPA_MAX
        cx, cy = xr - r2 * math.sin(theta), yr + r2 * math.cos(theta)
        reach = math.hypot(r2 + 0.5 * pc.CAR_WIDTH, 0.5 * (pc.CAR_LENGTH + pc.WHEELBASE))
        return math.hypot(px - cx, py - cy) >= reach + self.margin or px < xr

    def _corner_clearance(self, xr: float, yr: float, theta: float, slot: SlotLayout) -> float:
        """How far (m) the front car's lane-side rear corner is inside the full-lock inner circle.

        Negative: reversing at full right lock from here would clip that corner.
        """
        px, py = self._front_corner(slot)
        r1 = 1.0 / KAPPA_MAX
        cx, cy = xr + r1 * math.sin(theta), yr - r1 * math.cos(theta)
        inner = r1 - 0.5 * pc.CAR_WIDTH - self.margin
        return inner - math.hypot(px - cx, py - cy)

    def _in_slot_command(self, x: float, y: float, theta: float, speed: float,
                         slot: SlotLayout) -> tuple[float, float]:
        """Inside the slot: shuffle until straight on the centre line, then centre."""
        yr = y - HALF_WHEELBASE * math.sin(theta)
        cap_fwd, cap_rev = self._heading_caps(x, y, theta, slot)
        k_fwd, free_fwd = self._steer_clear(
            x, y, theta, self._forward_curvature(yr, theta, cap_fwd), 1, slot)
        k_rev, free_rev = self._steer_clear(
            x, y, theta, self._reverse_curvature(yr, theta, cap=cap_rev), -1, slot)
        aligned = abs(y) < self.align[0] and abs(theta) < self.align[1]
        if aligned:
            # Centre along x; steer with the law of the direction of travel.
            dx = -x
            if abs(dx) < 0.03:  # half the success tolerance: a wide, learnable "stop" region
                return 0.0, 0.0
            direction = 1 if dx > 0 else -1
            kappa = k_fwd if direction > 0 else k_rev
            return kappa, direction * min(self.slot_speed, 1.5 * abs(dx) + 0.03)
        if speed > 0.03:
            direction = 1 if free_fwd > 0.02 else -1
        elif speed < -0.03:
            direction = -1 if free_rev > 0.02 else 1
        else:
            direction = 1 if free_fwd > free_rev else -1
        free = free_fwd if direction > 0 else free_rev
        kappa = k_fwd if direction > 0 else k_rev
        return kappa, direction * self._speed_for(free, self.slot_speed)
