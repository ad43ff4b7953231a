"""Names of the MJCF elements of the drone task, and the two airframes' parameters.

Code reads elements by these names (``mj_name2id``), never by raw qpos
indices. The mass, inertia, rotor positions and yaw-torque coefficient of
each airframe must match its ``sim_assets/quadrotor/*.xml``; a test checks
them against the compiled model. The thrust curve and the motor lag are not
MuJoCo features: the env applies them in Python (``envs/drone.py``).

Frames follow REP-103: the world is ENU (x east, y north, z up), the body
FLU (x forward, y left, z up). Rotors are numbered as in the Learning to Fly
simulator: 0 (+x, -y), 1 (-x, -y), 2 (-x, +y), 3 (+x, +y), yaw-torque
directions -1, +1, -1, +1 (rotor i's reaction torque is
``YAW_DIRECTIONS[i] * torque_coefficient * T_i`` about body z).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

GRAVITY = 9.81  # m/s^2

# Elements of the airframe files (sim_assets/quadrotor/crazyflie.xml, x250.xml).
DRONE_BODY = "drone"
DRONE_FREE_JOINT = "drone_free"
ROTOR_SITES = ("rotor0", "rotor1", "rotor2", "rotor3")
ROTOR_ACTUATORS = ("motor0", "motor1", "motor2", "motor3")
YAW_DIRECTIONS = (-1.0, 1.0, -1.0, 1.0)
# The IMU: a site at the centre of mass, aligned with the body frame (FLU), carrying a MuJoCo
# ``gyro`` (body rates, rad/s) and ``accelerometer`` (specific force a - g, m/s^2: +g along body z at
# hover, 0 in free fall), both in the body frame and noise-free.
IMU_SITE = "imu"
GYRO_SENSOR = "gyro"
ACCELEROMETER_SENSOR = "accelerometer"

# Elements of the arena (sim_assets/quadrotor/arena.xml).
TARGET_SITES = ("target0", "target1", "target2")
OVERVIEW_CAMERA = "overview"
CHASE_CAMERA = "chase"
CAMERAS = (OVERVIEW_CAMERA, CHASE_CAMERA)

# The arena: a 2 x 2 x 1.5 m box, x, y in [-1, 1] m, z in [0, 1.5] m (world frame).
ARENA_LOW = (-1.0, -1.0, 0.0)
ARENA_HIGH = (1.0, 1.0, 1.5)

# Gyro range: the Crazyflie 2.1's BMI088 at its widest setting, 2000 deg/s.
GYRO_RANGE = math.radians(2000.0)  # rad/s


@dataclass(frozen=True)
class Airframe:
    """Nominal parameters of one quadrotor (SI units).

    ``thrust_curve`` (c0, c1, c2): thrust of one rotor T = c0 + c1 r + c2 r^2
    (N) at relative motor speed r in [0, 1]; ``torque_coefficient`` (m): the
    rotor's reaction torque per newton of thrust; ``motor_tau_up`` /
    ``motor_tau_down`` (s): time constants of the first-order lag of r when
    it rises / falls; ``rotor_positions``: (x, y) of each rotor in the body
    frame, numbered as in the module docstring; ``drag_coefficient`` (N s/m):
    the linear aerodynamic drag F = -c (v - w) of the whole airframe against
    the air (v the drone's, w the wind's velocity), which the env applies
    only when a wind is set (``DroneEnv.set_wind``; without one it has no
    drag, as in v0).
    """

    name: str
    scene_xml: str
    mass: float
    inertia: tuple[float, float, float]
    rotor_positions: tuple[tuple[float, float], ...]
    thrust_curve: tuple[float, float, float]
    torque_coefficient: float
    motor_tau_up: float
    motor_tau_down: float
    drag_coefficient: float = 0.0

    def thrust(self, r: float) -> float:
        """Thrust of one rotor (N) at relative motor speed ``r``."""
        c0, c1, c2 = self.thrust_curve
        return c0 + (c1 + c2 * r) * r

    @property
    def min_thrust(self) -> float:
        """Thrust of one rotor at r = 0 (N)."""
        return self.thrust(0.0)

    @property
    def max_thrust(self) -> float:
        """Thrust of one rotor at r = 1 (N)."""
        return self.thrust(1.0)

    @property
    def hover_thrust(self) -> float:
        """Thrust of one rotor that holds the nominal weight (N): m g / 4."""
        return self.mass * GRAVITY / 4.0

    @property
    def hover_speed(self) -> float:
        """Relative motor speed r at hover thrust."""
        return speed_for_thrust(self.thrust_curve, self.hover_thrust)

    @property
    def thrust_to_weight(self) -> float:
        return 4.0 * self.max_thrust / (self.mass * GRAVITY)


def speed_for_thrust(curve: tuple[float, float, float], thrust: float) -> float:
    """Relative motor speed r in [0, 1] giving ``thrust`` (N) on ``curve`` (inverse of the thrust curve)."""
    c0, c1, c2 = curve
    if c2 > 0.0:
        disc = c1 * c1 + 4.0 * c2 * (thrust - c0)
        r = (math.sqrt(disc) - c1) / (2.0 * c2) if disc > 0.0 else 0.0
    else:
        r = (thrust - c0) / c1
    return min(max(r, 0.0), 1.0)


# Crazyflie 2.1 as identified for the Learning to Fly simulator (Eschmann et
# al., "Learning to Fly in Seconds", 2023): take-off mass with its decks,
# inertia, rotor layout, thrust curve, reaction torque and the asymmetric
# motor lag, as given in this project's drone issue. (The rl-tools repository
# has carried other Crazyflie identifications over time, e.g. a thrust curve
# 0.0109 + 0.0374 r + 0.0628 r^2 N and time constants 0.069 / 0.114 s; the
# numbers here are the issue's.) Hover at r = 0.806, thrust-to-weight 1.47.
# Drag: c = 0.01 N s/m, the value this project's wind issue specifies for the
# Crazyflie (not identified here). Rotor drag, which dominates at these
# speeds, was identified for the Crazyflie 2.0 as proportional to the summed
# rotor speeds (Foerster, "System identification of the Crazyflie 2.0 nano
# quadrocopter", 2015); evaluated at hover speed that is, by my reading of
# its coefficients, of the same order (~0.006 N s/m). m / c = 3.1 s is the
# time constant of a drone drifting with the wind.
CRAZYFLIE = Airframe(
    name="crazyflie",
    scene_xml="quadrotor/crazyflie_scene.xml",
    mass=0.0306,
    inertia=(9e-6, 1e-5, 1.7e-5),
    rotor_positions=((0.028, -0.028), (-0.028, -0.028), (-0.028, 0.028), (0.028, 0.028)),
    thrust_curve=(0.003525, 0.014373, 0.09223),
    torque_coefficient=0.004665,
    motor_tau_up=0.055,
    motor_tau_down=0.249,
    drag_coefficient=0.01,
)

# A ~1 kg quadrotor on a 250 mm (motor-to-motor diagonal) X frame. Sources,
# and what is assumed:
# - mass 1.0 kg, rotor positions (+-0.0775, +-0.0981) m (a 250 mm diagonal,
#   slightly stretched X), inertia (8.39e-4, 1.41e-3, 2.19e-3) kg m^2 and the
#   reaction-torque coefficient 0.005964552 m: the "race" airframe of the
#   rl-tools Learning to Fly simulator (parameters/dynamics/race.h), renumbered
#   to this module's rotor order (its yaw directions agree with ours);
# - motor time constant 0.04 s: the same file gives one constant for both
#   directions (an ESC with active braking), used here for rise and fall;
# - thrust curve 7.5 r^2 N per rotor (about 765 g at full speed, a
#   thrust-to-weight of 3.1): NOT from that file, whose thrust constant
#   belongs to a differently scaled motor command. It is an assumption in
#   the range of commonly quoted bench figures for 5-inch propellers on
#   2300-2400 KV motors at 4S; I could not pin it to one source.
# - drag coefficient 0.33 N s/m: NOT identified. Assumed to be the
#   Crazyflie's drag per unit mass (0.01 / 0.0306 = 0.33 1/s) times 1 kg,
#   the same drift time constant of 3.1 s.
X250 = Airframe(
    name="x250",
    scene_xml="quadrotor/x250_scene.xml",
    mass=1.0,
    inertia=(8.393451e-4, 1.411891e-3, 2.189768e-3),
    rotor_positions=((0.0775, -0.0981), (-0.0775, -0.0981), (-0.0775, 0.0981), (0.0775, 0.0981)),
    thrust_curve=(0.0, 0.0, 7.5),
    torque_coefficient=0.005964552,
    motor_tau_up=0.04,
    motor_tau_down=0.04,
    drag_coefficient=0.33,
)

AIRFRAMES = {CRAZYFLIE.name: CRAZYFLIE, X250.name: X250}
