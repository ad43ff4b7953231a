"""A toy task registered from the test suite: Dict observations (a vector and a tiny image),
two actions, a scripted expert. It proves that a task is one module plus one registration."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from liquidcontrol.tasks import EpisodeMetric, Task, register_task, unregister_task

TOY_ID = "liquidcontrol-tests/ToyReach-v0"
IMAGE = (16, 16)


class ToyReachEnv(gym.Env):
    """Move a point to a target in the unit square.

    Observation: ``state`` (float32 [3]: offset to the target x, y in m, and
    the elapsed fraction of the episode) and ``image`` (uint8 16x16x3, the
    target drawn in red). Action: velocity in [-1, 1]^2 (scale 0.1 m/step).
    Success: within 0.05 m of the target for 2 steps. Truncation after 40 steps.
    Reward terms: ``distance`` (minus the distance) and ``success`` (+1).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}
    control_period = 0.05
    observation_layout = {
        "state": [{"name": "dx", "unit": "m", "scale": 0.5, "group": "pose", "fail_value": "hold"},
                  {"name": "dy", "unit": "m", "scale": 0.5, "group": "pose", "fail_value": "hold"},
                  {"name": "progress", "unit": "1", "scale": 1.0, "group": "clock", "fail_value": "hold"}],
        "image": None,
    }
    action_layout = [{"name": "vx", "unit": "m/step", "scale": 0.1}, {"name": "vy", "unit": "m/step", "scale": 0.1}]

    def __init__(self, render_mode: str | None = None, camera: str = "top") -> None:
        self.render_mode = render_mode
        self.observation_space = spaces.Dict({
            "state": spaces.Box(-2.0, 2.0, shape=(3,), dtype=np.float32),
            "image": spaces.Box(0, 255, shape=(*IMAGE, 3), dtype=np.uint8),
        })
        self.action_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self.pos = np.zeros(2)
        self.target = np.zeros(2)
        self.t = 0
        self.dwell = 0

    def _obs(self) -> dict[str, np.ndarray]:
        img = np.zeros((*IMAGE, 3), np.uint8)
        ij = np.clip((self.target * (np.array(IMAGE) - 1)).round().astype(int), 0, np.array(IMAGE) - 1)
        img[ij[1], ij[0], 0] = 255
        d = self.target - self.pos
        return {"state": np.array([d[0], d[1], self.t / 40], np.float32), "image": img}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.pos = self.np_random.uniform(0.1, 0.9, 2)
        self.target = self.np_random.uniform(0.1, 0.9, 2)
        self.t, self.dwell = 0, 0
        return self._obs(), {"position": self.pos.copy()}

    def step(self, action):
        a = np.clip(np.asarray(action, dtype=np.float64), -1, 1)
        self.pos = np.clip(self.pos + 0.1 * a, 0.0, 1.0)
        self.t += 1
        dist = float(np.linalg.norm(self.target - self.pos))
        self.dwell = self.dwell + 1 if dist < 0.05 else 0
        success = self.dwell >= 2
        terms = {"distance": -dist, "success": 1.0 if success else 0.0}
        info: dict[str, Any] = {"is_success": success, "position": self.pos.copy(), "distance": dist,
                                **{f"reward_{k}": v for k, v in terms.items()}}
        return self._obs(), float(sum(terms.values())), success, (not success and self.t >= 40), info

    def render(self):
        return np.repeat(np.repeat(self._obs()["image"], 4, axis=0), 4, axis=1)


class ToyExpert:
    """Proportional control towards the target, from the true state."""

    def reset(self) -> None:
        pass

    def act(self, env: Any) -> np.ndarray:
        return np.clip((env.unwrapped.target - env.unwrapped.pos) * 8.0, -1, 1).astype(np.float32)


TOY = Task(
    name="toy", env_id=TOY_ID, title="Toy reach", make_expert=ToyExpert, kind="cfc-ncp", units=8,
    recipe={"demo_noise": [0.2, 0.2]}, sweep=("obs_noise",), trainable_perturbations=("obs_noise",),
    metrics=(EpisodeMetric("final_distance_m", "m", lambda info: info.get("distance"), "last"),),
    position=lambda info: info.get("position"), render_camera=None,
)


def register() -> Task:
    if TOY_ID not in gym.registry:
        gym.register(id=TOY_ID, entry_point=ToyReachEnv)
    return register_task(TOY, replace=True)


def unregister() -> None:
    unregister_task(TOY.name)
