"""Scripted drone expert: a cascaded position -> velocity -> attitude -> rate controller.

It reads the true state (``env.unwrapped.true_state()``), the current target
and the *nominal* airframe (never the perturbed plant), and produces the env's
action in either action mode:

1. **Position -> velocity**: towards the current target, at a speed that
   grows with the distance, ``position_gain`` x distance capped at
   ``max_speed``; intermediate targets are flown through at no less than
   ``pass_speed`` (the env advances the target within 0.1 m), the last
   one is approached to a stop.
2. **Velocity -> acceleration**: ``velocity_gain`` x the velocity error,
   plus an integral of the vertical velocity error (``vertical_integral``;
   it absorbs a heavier or weaker drone than the nominal one) and, when
   ``horizontal_integral`` > 0 (default 0: off), of the horizontal ones
   (it absorbs a steady wind or a weak rotor's torque, which otherwise
   leave a steady offset from a hover target). Plus gravity,
   that is the thrust vector: its tilt is limited to ``max_tilt`` (35 deg)
   and its size to 95 % of the nominal maximum thrust, vertical first but
   keeping up to ``horizontal_reserve`` (3 m/s^2) for the horizontal
   demand: the Crazyflie's thrust-to-weight is only 1.47, and a drone
   thrown downwards next to a wall otherwise spends all its thrust on the
   climb and drifts out of the arena.
3. **Attitude** (geometric, Lee et al. 2010): the desired body z is the
   thrust vector, the desired heading yaw 0 (body x along world x), at most
   0.6 rad from the current heading so that a large yaw error turns away
   gradually and never masks the tilt error; the attitude error
   e_R = vee(R_d^T R - R^T R_d) / 2 gives body-rate set-points
   -``attitude_gain`` x e_R. The collective thrust is the thrust
   vector projected on the current body z.
4. **"rates" mode**: collective thrust and rate set-points, normalised as
   the env's ``action_layout`` says. **"motors" mode**: the expert runs its
   own rate loop at the policy rate (``rate_gain`` x the rate error, times
   the nominal inertia, plus w x J w), the env's attitude-first
   :class:`~liquidcontrol.envs.drone.Mixer`, the inverse thrust curve, and
   a motor-lag inversion for the hold period: from the measured motor speed
   r it commands the speed that, held for one control period through the
   nominal lag (rising or falling time constant), ends where a first-order
   motor of ``motor_tau`` would be.

The only state is the vertical integral (and the horizontal ones, which stay
zero while ``horizontal_integral`` is 0); ``reset()`` clears it.
"""

from __future__ import annotations

import math

import numpy as np
from liquidcontrol.envs import drone_constants as dc
from liquidcontrol.envs.drone import N_TARGETS, RATE_SCALE, Mixer


class DroneExpert:
    """Privileged expert for ``liquidcontrol/Drone-v0`` (both action modes, both airframes).

    Args:
        max_speed: cruise speed between targets, m/s.
        pass_speed: least speed through an intermediate target, m/s.
        position_gain: desired speed per metre of distance, 1/s.
        velocity_gain: acceleration per m/s of velocity error, 1/s.
        vertical_integral: acceleration per metre of integrated vertical
            velocity error, 1/s^2 (bounded to +-3 m/s^2).
        horizontal_integral: the same for each horizontal axis (0 = off, the
            default; 1.0 lets the expert hold a hover target in a 3 m/s
            wind, see ``liquidcontrol.perturb.drone``).
        max_tilt: largest tilt of the thrust vector, rad.
        attitude_gain: body-rate set-point per radian of attitude error
            (roll, pitch, yaw), 1/s.
        rate_gain: angular acceleration per rad/s of rate error in the
            "motors" mode, 1/s.
        motor_tau: time constant the "motors" mode makes each motor follow, s.
        yaw: heading to hold (rad, world frame; 0 = body x along world x).
        max_yaw_step: the desired heading is at most this far (rad) from the
            current one, so large yaw errors are turned away gradually.
        horizontal_reserve: horizontal acceleration (m/s^2) the thrust
            vector keeps when the vertical demand alone would use all of it.
    """

    def __init__(self, max_speed: float = 1.2, pass_speed: float = 0.6, position_gain: float = 1.6,
                 velocity_gain: float = 3.5, vertical_integral: float = 2.0,
                 max_tilt: float = math.radians(35.0), attitude_gain: tuple[float, float, float] = (13.0, 13.0, 3.0),
                 rate_gain: tuple[float, float, float] = (22.0, 22.0, 10.0), motor_tau: float = 0.03,
                 yaw: float = 0.0, max_yaw_step: float = 0.6, horizontal_integral: float = 0.0,
                 horizontal_reserve: float = 3.0) -> None:
        self.max_speed, self.pass_speed, self.position_gain = max_speed, pass_speed, position_gain
        self.velocity_gain, self.vertical_integral = velocity_gain, vertical_integral
        self.tan_tilt = math.tan(max_tilt)
        self.attitude_gain, self.rate_gain, self.motor_tau = attitude_gain, rate_gain, motor_tau
        self.yaw, self.max_yaw_step = yaw, max_yaw_step
        self.horizontal_integral = horizontal_integral
        self.horizontal_reserve = horizontal_reserve
        self._integral = 0.0
        self._integral_xy = (0.0, 0.0)
        self._mixers: dict[str, Mixer] = {}

    def reset(self) -> None:
        """Forget the integrals (a new episode)."""
        self._integral = 0.0
        self._integral_xy = (0.0, 0.0)

    def act(self, env) -> np.ndarray:
        """Action in [-1, 1]^4 for the env's current true state, in the env's action mode."""
        u = env.unwrapped
        af: dc.Airframe = u.airframe
        s = u.true_state()
        dt = u.control_period
        thrust, rates = self._attitude_command(s, u.current_target, u.target_index == getattr(u, "n_targets", N_TARGETS) - 1, af, dt)
        if u.action_mode == "rates":
            a = [(thrust - u.collective_offset) / u.collective_scale,
                 rates[0] / RATE_SCALE[0], rates[1] / RATE_SCALE[1], rates[2] / RATE_SCALE[2]]
        else:
            a = self._motor_command(s, thrust, rates, af, dt)
        return np.array([min(max(v, -1.0), 1.0) for v in a], np.float32)

    # ------------------------------------------------------------ outer loops
    def _attitude_command(self, s, target: tuple[float, float, float], last: bool, af: dc.Airframe,
                          dt: float) -> tuple[float, tuple[float, float, float]]:
        """Collective thrust (N) and body-rate set-points (rad/s)."""
        (x, y, z), (vx, vy, vz), R = s.position, s.velocity, s.rotation
        ex, ey, ez = target[0] - x, target[1] - y, target[2] - z
        dist = math.sqrt(ex * ex + ey * ey + ez * ez)
        speed = min(self.position_gain * dist, self.max_speed)
        if not last:
            speed = max(speed, self.pass_speed)
        k = speed / dist if dist > 1e-6 else 0.0
        dvx, dvy, dvz = k * ex - vx, k * ey - vy, k * ez - vz
        limit = 3.0 / self.vertical_integral
        self._integral = min(max(self._integral + dvz * dt, -limit), limit)
        kv = self.velocity_gain
        g = dc.GRAVITY
        fx, fy = kv * dvx, kv * dvy
        ki = self.horizontal_integral
        if ki > 0.0:
            h_limit = 3.0 / ki
            ix, iy = self._integral_xy
            ix = min(max(ix + dvx * dt, -h_limit), h_limit)
            iy = min(max(iy + dvy * dt, -h_limit), h_limit)
            self._integral_xy = (ix, iy)
            fx, fy = fx + ki * ix, fy + ki * iy
        fz = kv * dvz + self.vertical_integral * self._integral + g
        a_max = 0.95 * 4.0 * af.max_thrust / af.mass
        fz = min(max(fz, 0.3 * g), a_max)
        h_res = min(math.hypot(fx, fy), self.horizontal_reserve)
        if h_res > 0.0:
            fz = min(fz, max(math.sqrt(max(a_max * a_max - h_res * h_res, 0.0)), 0.3 * g))
        h_max = min(self.tan_tilt * fz, math.sqrt(max(a_max * a_max - fz * fz, 0.0)))
        h = math.hypot(fx, fy)
        if h > h_max:
            fx, fy = fx * h_max / h, fy * h_max / h
        # Collective thrust: the thrust vector projected on the current body z axis.
        bzx, bzy, bzz = R[2], R[5], R[8]
        thrust = max(af.mass * (fx * bzx + fy * bzy + fz * bzz), 0.0)
        # Desired attitude: body z along the thrust vector; heading towards yaw 0, at most
        # max_yaw_step away from the current heading, so a large yaw error never masks the
        # tilt error (the geometric error of a rotation by ~pi is ~0).
        heading = math.atan2(R[3], R[0])
        turn = math.atan2(math.sin(self.yaw - heading), math.cos(self.yaw - heading))
        psi = heading + min(max(turn, -self.max_yaw_step), self.max_yaw_step)
        cc, sc = math.cos(psi), math.sin(psi)
        n = math.sqrt(fx * fx + fy * fy + fz * fz)
        zx, zy, zz = fx / n, fy / n, fz / n
        # y_d = z_d x (cos psi, sin psi, 0), normalised; x_d = y_d x z_d.
        yx, yy, yz = -zz * sc, zz * cc, zx * sc - zy * cc
        ny = math.sqrt(yx * yx + yy * yy + yz * yz)
        yx, yy, yz = yx / ny, yy / ny, yz / ny
        xx, xy, xz = yy * zz - yz * zy, yz * zx - yx * zz, yx * zy - yy * zx
        # M = R_d^T R; e_R = vee(M - M^T) / 2.
        r00, r01, r02, r10, r11, r12, r20, r21, r22 = R
        m01 = xx * r01 + xy * r11 + xz * r21
        m02 = xx * r02 + xy * r12 + xz * r22
        m10 = yx * r00 + yy * r10 + yz * r20
        m12 = yx * r02 + yy * r12 + yz * r22
        m20 = zx * r00 + zy * r10 + zz * r20
        m21 = zx * r01 + zy * r11 + zz * r21
        e_roll, e_pitch, e_yaw = 0.5 * (m21 - m12), 0.5 * (m02 - m20), 0.5 * (m10 - m01)
        kr, kp, ky = self.attitude_gain
        return thrust, (-kr * e_roll, -kp * e_pitch, -ky * e_yaw)

    # ------------------------------------------------------------ motors mode
    def _mixer(self, af: dc.Airframe) -> Mixer:
        if af.name not in self._mixers:
            self._mixers[af.name] = Mixer(af)
        return self._mixers[af.name]

    def _motor_command(self, s, thrust: float, rates: tuple[float, float, float], af: dc.Airframe,
                       dt: float) -> list[float]:
        """Four motor commands in [-1, 1]: rate loop, mixer, inverse thrust curve, lag inversion."""
        p, q, r = s.body_rates
        jx, jy, jz = af.inertia
        kx, ky, kz = self.rate_gain
        tx = jx * kx * (rates[0] - p) + (jz - jy) * q * r
        ty = jy * ky * (rates[1] - q) + (jx - jz) * r * p
        tz = jz * kz * (rates[2] - r) + (jy - jx) * p * q
        follow = math.exp(-dt / self.motor_tau)
        up, down = math.exp(-dt / af.motor_tau_up), math.exp(-dt / af.motor_tau_down)
        out = []
        for t_i, speed in zip(self._mixer(af).thrusts(thrust, tx, ty, tz), s.motor_speeds):
            want = dc.speed_for_thrust(af.thrust_curve, t_i)
            goal = want + (speed - want) * follow  # where the motor should be after the hold period
            alpha = up if goal > speed else down
            cmd = min(max((goal - alpha * speed) / (1.0 - alpha), 0.0), 1.0)
            out.append(2.0 * cmd - 1.0)
        return out
