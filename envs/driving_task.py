"""The driving tasks' entries in the task registry (see ``liquidcontrol.tasks``).

``driving``: lane keeping from the forward camera (Dict observation: a
64 x 128 RGB image and the speed), CfC on AutoNCP(19, 1) behind the conv
head, trained with image augmentation. ``driving_state``: the same env with
the state observation (lateral offset, heading error, curvature preview,
speed), for quick experiments.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from liquidcontrol.envs.driving_expert import PurePursuitExpert

from liquidcontrol.tasks import EpisodeMetric, Task, info_number, register_task

DRIVING_ID = "liquidcontrol/Driving-v0"


def _position(info: dict[str, Any]) -> tuple[float, float] | None:
    p = info.get("position")
    return None if p is None else (float(p[0]), float(p[1]))


#: Image corruptions the camera task's training augmentation imitates (see ``FitConfig.augment``).
AUGMENTED = ("image_noise", "brightness_contrast")

DRIVING = register_task(Task(
    name="driving",
    env_id=DRIVING_ID,
    title="Lane keeping from a camera",
    make_expert=PurePursuitExpert,
    kind="cfc-ncp",
    units=19,
    # Smooth steering noise on the demonstrations shows recoveries (the pipeline's OU noise of
    # sigma 0.05 wanders about +-0.1 of full lock; at 0.25 half the noisy laps left the road);
    # images are augmented in training (brightness / contrast per episode, pixel noise per frame,
    # a shift of a few pixels). Measured: at the default lr 1e-2 the conv head did not learn
    # (BC loss stuck at 0.075); at 1e-3 it fell to 0.02 in 8 epochs.
    recipe={"demo_noise": [0.05], "lr": 1e-3, "demo_episodes": 48, "bc_epochs": 12, "iterations": 5,
            "episodes_per_iteration": 24, "epochs_per_iteration": 2, "validation_episodes": 50,
            "rollout_steps": 400, "augment": 1.0, "threads": 2, "batch_size": 16},
    sweep=("camera_rain", "image_noise", "shot_noise", "motion_blur", "fog", "brightness_contrast", "occlusion", "jpeg"),
    trainable_perturbations=AUGMENTED,
    seen_in_training=("action_noise", *AUGMENTED),
    metrics=(
        EpisodeMetric("mean_lateral_deviation_m", "m", info_number("lateral_deviation_m"), "mean",
                      "mean distance of the car centre from the lane centre"),
        EpisodeMetric("max_lateral_deviation_m", "m", info_number("lateral_deviation_m"), "max",
                      "largest distance of the car centre from the lane centre"),
        EpisodeMetric("lap_fraction", "1", info_number("lap_fraction"), "last", "laps driven (1 = the whole lap)"),
    ),
    position=_position,
    render_camera="chase",
    time_label="lap time",
))

# The state-observation variant: the same env and expert, no camera.
DRIVING_STATE = register_task(dataclasses.replace(
    DRIVING, name="driving_state", title="Lane keeping from the lane state",
    env_kwargs={"observation": "state"},
    recipe={"demo_noise": [0.05], "bc_epochs": 30, "iterations": 4, "episodes_per_iteration": 32,
            "epochs_per_iteration": 10, "validation_episodes": 100, "rollout_steps": 400},
    sweep=("obs_noise", "obs_delay", "action_delay", "friction", "steer_servo"),
    trainable_perturbations=("obs_noise", "action_noise"),
    seen_in_training=("action_noise",),
))
