"""Episodes driven over ROS 2 (a teleop node, a joystick, any publisher of the command) recorded as
demonstrations, written as the ROS 2 bag ``liquidcontrol record`` writes (no ROS import).

The sim bridge hands every control step to :meth:`EpisodeRecorder.step`:
the env's observation the command was applied to and the action it became
(env units, clipped to the env's [-1, 1] action box: the executed action,
which is what behaviour cloning must imitate), with ``dt`` the sim's control
period (the physics steps that long whatever the wall clock did).
:meth:`EpisodeRecorder.write` then writes the finished episodes through the
task's shipped bag mapping (for parking the car's own topics:
``/odom``, ``/joint_states``, ``/range/*``, ``/cmd_vel``; generic vectors
for a task without one) with the same stamps, episode markers and stored
mapping as ``liquidcontrol record``, so ``liquidcontrol train bc|dagger
--demos BAG`` reads it without a mapping file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from liquidcontrol.errors import LiquidControlError

RECORDED_BY = "sim_bridge_node (episodes driven by the commands it received)"


class EpisodeRecorder:
    """Observation / executed-action pairs of the episodes a sim bridge plays."""

    def __init__(self, env: Any, env_id: str, task: str, out: str) -> None:
        from liquidcontrol.bags.mapping import default_mapping

        layout = env.observation_layout
        if not isinstance(layout, list):
            raise LiquidControlError(
                f"task {task!r} has a Dict observation (a camera); bags carry flat vector observations only, "
                "so it cannot be recorded.")
        if not out:
            raise LiquidControlError("parameter record must name the bag to write (a folder, or a file ending in .mcap).")
        self.out, self.env_id, self.task = out, env_id, task
        self.obs_names = [str(e.get("name", f"obs_{i}")) for i, e in enumerate(layout)]
        self.act_names = [str(a.get("name", f"action_{i}")) for i, a in enumerate(env.action_layout)]
        self.mapping = default_mapping(env_id, self.obs_names, self.act_names)
        self.episodes: list[Any] = []
        self.info: list[dict[str, Any]] = []
        self._obs: list[np.ndarray] = []
        self._act: list[np.ndarray] = []
        self._dt: list[float] = []

    def step(self, obs: np.ndarray, action: np.ndarray, dt: float) -> np.ndarray:
        """Record one step; returns the executed action (``action`` clipped to [-1, 1])."""
        executed = np.clip(np.asarray(action, dtype=np.float32), -1.0, 1.0)
        self._obs.append(np.array(obs, dtype=np.float32))
        self._act.append(executed)
        self._dt.append(float(dt))
        return executed

    def finish(self, seed: int, success: bool) -> None:
        """Close the episode being recorded (``seed`` and its outcome go into the episode marker)."""
        from liquidcontrol.train.data import Episode

        if not self._obs:
            return
        self.episodes.append(Episode(obs=np.stack(self._obs), act=np.stack(self._act),
                                     dt=np.asarray(self._dt, dtype=np.float32)))
        self.info.append({"seed": int(seed), "success": bool(success)})
        self._obs, self._act, self._dt = [], [], []

    @property
    def steps(self) -> int:
        return sum(len(e) for e in self.episodes)

    def write(self) -> Path:
        """Write the finished episodes (an episode cut short is left out) as the bag ``out``."""
        from liquidcontrol.bags.writer import write_bag
        from liquidcontrol.train.data import Demonstrations

        demos = Demonstrations(meta={"env_id": self.env_id, "task": self.task, "recorded_by": RECORDED_BY})
        for episode in self.episodes:
            demos.add(episode)
        try:
            return write_bag(self.out, demos, self.mapping, self.obs_names, self.act_names, self.info,
                             {**demos.meta}, progress=False)
        except OSError as exc:
            raise LiquidControlError(
                f"cannot write the recording to {self.out}: {exc.strerror or exc} ({exc.filename}).") from None
