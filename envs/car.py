"""The 1:10 Ackermann car shared by the parking and driving tasks (``sim_assets/car/ackermann_car.xml``).

:class:`Car` looks up the car's elements by name once, turns steering and
speed targets into the four actuator commands (Ackermann steering, an
electronic differential on the rear wheels), reads the pose and speed, and
scales tyre/road friction and the car's mass for the physics perturbations.
"""

from __future__ import annotations

import math
import numbers

import mujoco
import numpy as np
from liquidcontrol.envs import parking_constants as pc

from liquidcontrol.errors import LiquidControlError


class Car:
    """The car of ``model`` (its elements named as in ``parking_constants``); ``road_geom`` is the
    geom the tyres drive on (its friction is scaled with theirs)."""

    def __init__(self, model: mujoco.MjModel, road_geom: str) -> None:
        m = self.model = model

        def ident(kind: mujoco.mjtObj, name: str) -> int:
            i = mujoco.mj_name2id(m, kind, name)
            if i < 0:
                raise LiquidControlError(f"the model has no {kind.name[6:].lower()} named {name!r}.")
            return i

        G, J, A = mujoco.mjtObj.mjOBJ_GEOM, mujoco.mjtObj.mjOBJ_JOINT, mujoco.mjtObj.mjOBJ_ACTUATOR
        self.chassis = ident(G, pc.CHASSIS_GEOM)
        self.body = ident(mujoco.mjtObj.mjOBJ_BODY, pc.CAR_BODY)
        free = ident(J, pc.CAR_FREE_JOINT)
        self.qpos0, self.qvel0 = int(m.jnt_qposadr[free]), int(m.jnt_dofadr[free])
        self.steer_qpos = [int(m.jnt_qposadr[ident(J, n)]) for n in pc.STEER_JOINTS]
        self.steer_act = [ident(A, n) for n in pc.STEER_ACTUATORS]
        self.drive_act = [ident(A, n) for n in pc.DRIVE_ACTUATORS]
        self.grip_geoms = [ident(G, n) for n in (*pc.WHEEL_GEOMS, road_geom)]
        self.base_friction = m.geom_friction[self.grip_geoms, 0].copy()
        # Every body whose root ancestor is the car: chassis, steering knuckles, wheels.
        self.bodies = np.flatnonzero(m.body_rootid == self.body)
        self.base_mass = m.body_mass[self.bodies].copy()
        self.base_inertia = m.body_inertia[self.bodies].copy()
        self.friction_scale, self.mass_scale = 1.0, 1.0
        self._applied_mass_scale = 1.0

    # ---------------------------------------------------------------- commands
    def actuate(self, data: mujoco.MjData, steer: float, speed: float) -> None:
        """Write the servo and wheel-speed commands for a bicycle steering angle ``steer`` (rad) and a
        speed ``speed`` (m/s): inner and outer wheel angles meet on the rear-axle line (Ackermann),
        the rear wheels turn at the speeds of their own radii (differential)."""
        kappa = math.tan(steer) / pc.WHEELBASE
        half_track = 0.5 * pc.TRACK
        left = math.atan(pc.WHEELBASE * kappa / (1.0 - half_track * kappa))
        right = math.atan(pc.WHEELBASE * kappa / (1.0 + half_track * kappa))
        ctrl = data.ctrl
        ctrl[self.steer_act[0]], ctrl[self.steer_act[1]] = left, right
        wheel = speed / pc.WHEEL_RADIUS
        ctrl[self.drive_act[0]] = wheel * (1.0 - half_track * kappa)
        ctrl[self.drive_act[1]] = wheel * (1.0 + half_track * kappa)

    # ---------------------------------------------------------------- state
    def pose_speed(self, data: mujoco.MjData) -> tuple[float, float, float, float]:
        """(x m, y m, yaw rad, longitudinal speed m/s), world frame; plain floats."""
        i, j = self.qpos0, self.qvel0
        x, y, _, w, qx, qy, qz = data.qpos[i:i + 7].tolist()
        vx, vy = data.qvel[j:j + 2].tolist()
        yaw = math.atan2(2.0 * (w * qz + qx * qy), 1.0 - 2.0 * (qy * qy + qz * qz))
        return x, y, yaw, vx * math.cos(yaw) + vy * math.sin(yaw)

    def steering(self, data: mujoco.MjData) -> float:
        """Measured steering angle, the mean of the two front wheels (rad)."""
        q = data.qpos
        return 0.5 * (float(q[self.steer_qpos[0]]) + float(q[self.steer_qpos[1]]))

    def place(self, data: mujoco.MjData, x: float, y: float, yaw: float) -> None:
        """Put the car at rest at (x, y) with heading ``yaw`` (call ``mj_forward`` after)."""
        data.qpos[self.qpos0:self.qpos0 + 7] = (x, y, pc.AXLE_HEIGHT, math.cos(yaw / 2), 0.0, 0.0,
                                                math.sin(yaw / 2))

    def in_contact(self, data: mujoco.MjData) -> bool:
        """Any contact involving the chassis."""
        ncon = data.ncon
        return bool(ncon) and self.chassis in data.contact.geom[:ncon].ravel().tolist()

    # ---------------------------------------------------------------- physics
    def set_physics(self, friction_scale: float = 1.0, mass_scale: float = 1.0) -> None:
        """Scale road/tyre friction and the mass and inertia of every car body (from :meth:`apply_physics`)."""
        for name, value in (("friction_scale", friction_scale), ("mass_scale", mass_scale)):
            if not (isinstance(value, numbers.Real) and math.isfinite(value) and value > 0):
                raise LiquidControlError(f"{name}={value!r} is invalid; expected a finite number > 0.")
        self.friction_scale, self.mass_scale = float(friction_scale), float(mass_scale)

    def apply_physics(self, data: mujoco.MjData) -> None:
        """Write the scales set by :meth:`set_physics` into the model (at a reset)."""
        m = self.model
        m.geom_friction[self.grip_geoms, 0] = self.base_friction * self.friction_scale
        if self.mass_scale != self._applied_mass_scale:
            m.body_mass[self.bodies] = self.base_mass * self.mass_scale
            m.body_inertia[self.bodies] = self.base_inertia * self.mass_scale
            # Derived constants (subtree masses, inverse weights of the contact solver) follow
            # the new inertia; at scale 1 this reproduces the compiled model exactly.
            mujoco.mj_setConst(m, data)
            self._applied_mass_scale = self.mass_scale
