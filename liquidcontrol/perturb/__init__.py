"""Named perturbations with severities 0-5, applied as composable Gymnasium wrappers.

>>> from liquidcontrol.perturb import PERTURBATIONS, apply_perturbations
>>> env = apply_perturbations(env, [("rain", 3), ("action_delay", 2)], seed=0)

See :mod:`liquidcontrol.perturb.catalog` for the severity tables and their
physical meaning, and :func:`register_perturbation` to add more (camera
effects, wind). Observation perturbations read how each sensor fails
(``fail_value``) and saturates (``limits``) from the env's
``observation_layout`` (see :mod:`liquidcontrol.perturb.base`) and take
``groups=`` (sensor groups) and, for ``spaces.Dict`` observations,
``keys=`` (vector keys; images pass through untouched):

>>> make_perturbation("sensor_dropout", 3, keys=["state"]).apply(dict_env)
"""

from liquidcontrol.perturb import catalog as _catalog  # noqa: F401  (registers the first set)
from liquidcontrol.perturb import drone as _drone  # noqa: F401  (registers wind, rotor_loss, payload, imu_noise)
from liquidcontrol.perturb import image as _image  # noqa: F401  (registers camera_rain and the image corruptions)
from liquidcontrol.perturb.action import ActionDelay, ActionNoise, SteeringServo
from liquidcontrol.perturb.base import (
    PerturbationWrapper,
    channel_scales,
    fail_values,
    saturation_limits,
    seconds_to_steps,
    select_channels,
)
from liquidcontrol.perturb.observation import (
    FrozenSensor,
    ObservationBiasDrift,
    ObservationDelay,
    ObservationNoise,
    SensorDropout,
)
from liquidcontrol.perturb.physics import PhysicsScale
from liquidcontrol.perturb.registry import (
    MAX_SEVERITY,
    PERTURBATIONS,
    Perturbation,
    PerturbationSpec,
    apply_perturbations,
    check_severity,
    get_spec,
    make_perturbation,
    parse_item,
    register_perturbation,
)

__all__ = [
    "MAX_SEVERITY",
    "PERTURBATIONS",
    "ActionDelay",
    "ActionNoise",
    "FrozenSensor",
    "ObservationBiasDrift",
    "ObservationDelay",
    "ObservationNoise",
    "Perturbation",
    "PerturbationSpec",
    "PerturbationWrapper",
    "PhysicsScale",
    "SensorDropout",
    "SteeringServo",
    "apply_perturbations",
    "channel_scales",
    "check_severity",
    "fail_values",
    "get_spec",
    "make_perturbation",
    "parse_item",
    "register_perturbation",
    "saturation_limits",
    "seconds_to_steps",
    "select_channels",
]
