"""A tiny numpy env with the parking env's attributes, for fast exact tests.

A point "car" drives towards the origin of a 4 m x 4 m box. It has the same
contract as ``liquidcontrol/Parking-v0`` (``control_period``,
``observation_layout`` with groups pose / speed / steer / range,
``action_layout``, ``set_physics``, info keys) but its numbers are simple
enough to check perturbations exactly: with ``frozen=True`` the observation
never changes on its own, with ``counter=True`` every channel reads the step
count.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

STANDIN_ID = "liquidcontrol-test/StandIn-v0"

LAYOUT = [
    {"name": "x", "unit": "m", "group": "pose"},
    {"name": "y", "unit": "m", "group": "pose"},
    {"name": "cos_theta", "unit": "1", "group": "pose"},
    {"name": "sin_theta", "unit": "1", "group": "pose"},
    {"name": "speed", "unit": "m/s", "group": "speed"},
    {"name": "steer", "unit": "rad", "group": "steer"},
    {"name": "range_front", "unit": "m", "group": "range"},
    {"name": "range_rear", "unit": "m", "group": "range"},
    {"name": "range_left", "unit": "m", "group": "range"},
    {"name": "range_right", "unit": "m", "group": "range"},
]


class StandInParkingEnv(gym.Env):
    """Point car in a box; success = inside 5 cm of the origin, slow, for 3 steps."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}

    def __init__(self, render_mode: str | None = None, max_steps: int = 120,
                 frozen: bool = False, counter: bool = False) -> None:
        inf = np.inf
        low = np.array([-inf, -inf, -1, -1, -inf, -0.4, 0, 0, 0, 0], dtype=np.float32)
        high = np.array([inf, inf, 1, 1, inf, 0.4, 4, 4, 4, 4], dtype=np.float32)
        self.observation_space = gym.spaces.Box(low, high, dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self.control_period = 0.05
        self.observation_layout = [dict(e) for e in LAYOUT]
        self.action_layout = [{"name": "vx", "unit": "1"}, {"name": "vy", "unit": "1"}]
        self.render_mode = render_mode
        self.max_steps, self.frozen, self.counter = max_steps, frozen, counter
        self._pending = (1.0, 1.0)
        self.friction_scale = self.mass_scale = 1.0
        self.pos = np.zeros(2)
        self.vel = np.zeros(2)
        self.t = 0
        self.dwell = 0

    def set_physics(self, friction_scale: float = 1.0, mass_scale: float = 1.0) -> None:
        """Takes effect at the next reset; the speed gain is 0.5 m/s x friction / mass."""
        self._pending = (float(friction_scale), float(mass_scale))

    def _obs(self) -> np.ndarray:
        if self.counter:
            return np.full(10, float(self.t), dtype=np.float32)
        x, y = self.pos
        ranges = np.clip([2 - x, 2 + x, 2 - y, 2 + y], 0, 4)
        speed = float(np.linalg.norm(self.vel))
        steer = 0.2 if self.frozen else float(np.clip(self.vel[1], -0.4, 0.4))
        return np.array([x, y, 1.0, 0.0, speed, steer, *ranges], dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.friction_scale, self.mass_scale = self._pending
        self.pos = np.array([0.5, 0.5]) if self.frozen else self.np_random.uniform(-1.0, 1.0, 2)
        self.vel = np.zeros(2)
        self.t, self.dwell = 0, 0
        return self._obs(), {"car_pose": np.array([*self.pos, 0.0])}

    def step(self, action: np.ndarray):
        a = np.clip(np.asarray(action, dtype=np.float64), -1, 1)
        gain = 0.5 * self.friction_scale / self.mass_scale
        before = self.pos.copy()
        if not self.frozen:
            self.vel = a * gain
            self.pos = self.pos + self.vel * self.control_period
        self.t += 1
        near = np.linalg.norm(self.pos) < 0.05 and np.linalg.norm(self.vel) < 0.2
        self.dwell = self.dwell + 1 if near else 0
        collision = bool(np.any(np.abs(self.pos) > 1.95))
        success = self.dwell >= 3
        progress = float(np.linalg.norm(before) - np.linalg.norm(self.pos))
        info = {"is_success": success, "collision": collision, "unstable": False,
                "car_pose": np.array([*self.pos, 0.0]), "speed": float(np.linalg.norm(self.vel)),
                "reward_progress": progress, "reward_time": -0.01}
        return self._obs(), progress - 0.01, success or collision, self.t >= self.max_steps, info

    def render(self) -> np.ndarray:
        img = np.full((64, 64, 3), 230, dtype=np.uint8)
        cx, cy = (np.clip(self.pos, -2, 2) + 2) / 4 * 63
        img[int(cy) - 2:int(cy) + 3, int(cx) - 2:int(cx) + 3] = (200, 30, 30)
        return img


class StandInExpert:
    """Proportional controller to the origin: the stand-in's scripted expert."""

    def reset(self) -> None:
        pass

    def act(self, env: gym.Env) -> np.ndarray:
        base = env.unwrapped
        return np.clip(-base.pos * 8.0, -1, 1).astype(np.float32)


def register() -> str:
    if STANDIN_ID not in gym.registry:
        gym.register(STANDIN_ID, entry_point=StandInParkingEnv, max_episode_steps=None)
    return STANDIN_ID
