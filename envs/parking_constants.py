"""Names of the MJCF elements of the parking task, and the car's dimensions.

Code reads elements by these names (``mj_name2id``), never by raw qpos
indices. Dimensions must match ``sim_assets/car/*.xml``; a test checks them
against the compiled model.
"""

from __future__ import annotations

SCENE_XML = "car/parking_scene.xml"

# Elements of the car (sim_assets/car/ackermann_car.xml).
CAR_BODY = "car"
CAR_FREE_JOINT = "car_free"
CHASSIS_GEOM = "chassis"
STEER_ACTUATORS = ("steer_front_left", "steer_front_right")
STEER_JOINTS = ("steer_front_left", "steer_front_right")
DRIVE_ACTUATORS = ("drive_rear_left", "drive_rear_right")
WHEEL_GEOMS = ("wheel_front_left", "wheel_front_right", "wheel_rear_left", "wheel_rear_right")
RANGE_SENSORS = (
    "range_front",
    "range_front_left",
    "range_left",
    "range_rear_left",
    "range_rear",
    "range_rear_right",
    "range_right",
    "range_front_right",
)

# Elements of the scene (sim_assets/car/parking_scene.xml).
ROAD_GEOM = "road"
CURB_GEOM = "curb"
REAR_CAR_GEOM = "rear_car"
FRONT_CAR_GEOM = "front_car"
SLOT_MARKER_GEOM = "slot_marker"
TOP_CAMERA = "top"
CHASE_CAMERA = "chase"

# Car dimensions (m, rad) — the body origin is midway between the axles.
WHEELBASE = 0.33
TRACK = 0.22
WHEEL_RADIUS = 0.05
CAR_LENGTH = 0.50
CAR_WIDTH = 0.26
AXLE_HEIGHT = 0.05

# Limits of the drive-by-wire layer the env adds on top of the servos.
MAX_STEER = 0.38  # rad, bicycle-equivalent steering angle at full lock
STEER_RATE = 3.0  # rad/s, servo slew rate (lock to lock in about 0.25 s)
MAX_SPEED = 0.5  # m/s, speed at full speed command
MAX_ACCEL = 2.0  # m/s^2, ramp of the speed target

# Scene geometry (m).
CURB_Y = -0.20  # inner face of the curb
NEIGHBOUR_LENGTH = 0.50
NEIGHBOUR_WIDTH = 0.26
MAX_RANGE = 2.0  # rangefinder readings are clipped here; "nothing seen" reads MAX_RANGE
RANGE_LIMITS = (0.0, MAX_RANGE)  # m, the rangefinders' output range; MAX_RANGE = saturated (no echo)

# Mass of the car subtree (kg): chassis 2.9 + 2 steering knuckles x 0.05 + 4 wheels x 0.1.
CAR_MASS = 3.4
