"""Demonstrations as ROS 2 bags (rosbag2 folders, mcap storage, via the ``rosbags`` package).

- ``liquidcontrol record --task NAME --out BAG``: expert episodes written as a bag
  (:mod:`liquidcontrol.bags.record`), through a topic mapping
  (:mod:`liquidcontrol.bags.mapping`);
- ``liquidcontrol train bc|dagger --demos BAG [--mapping FILE]``: trains from
  a bag exactly as from a native ``.npz`` demonstration file, since both
  load into the same :class:`~liquidcontrol.train.data.Demonstrations`.

Needs the ``[bags]`` extra (rosbags) for reading and writing bags.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from liquidcontrol.bags.mapping import BagMapping, default_mapping, load_mapping
from liquidcontrol.errors import LiquidControlError

__all__ = ["BagMapping", "default_mapping", "layout_names", "load_bag_demos", "load_mapping"]


def layout_names(task: Any) -> tuple[list[str], list[str]]:
    """Observation channel names and action names of ``task``'s env, in order."""
    from liquidcontrol.export.layouts import env_card_fields

    fields = env_card_fields(task.env_id, task.env_kwargs)
    if not isinstance(fields["observation"], list):
        raise LiquidControlError(f"task {task.name!r} has a Dict observation; bags carry flat vector observations only.")
    obs = [str(e.get("name", f"obs_{i}")) for i, e in enumerate(fields["observation"])]
    act = [str(e.get("name", f"action_{i}")) for i, e in enumerate(fields["action"])]
    return obs, act


def load_bag_demos(path: str | Path, mapping_path: str = "", task_name: str = "", progress: bool = True) -> Any:
    """Demonstrations from the bag at ``path`` (a bag folder or an ``.mcap`` file).

    The mapping is ``mapping_path``, else the one a liquidcontrol recording
    stored in the bag folder, else the task's default (the shipped mapping
    for its env: a bare ``.mcap`` file or a robot's bag publishing the same
    topics reads with ``--task`` alone). The task is ``task_name``, else the
    one the bag was recorded with, else the one of the mapping's env id.
    """
    from liquidcontrol.bags.reader import bag_metadata, read_bag
    from liquidcontrol.tasks import get_task, task_for_env

    mapping = load_mapping(mapping_path) if mapping_path else None
    stored, meta = bag_metadata(path)
    name = task_name or str(meta.get("task") or "")
    known = mapping or stored
    if not name:
        found = task_for_env(known.env_id) if known is not None and known.env_id else None
        if found is None:
            raise LiquidControlError(f"cannot tell which task bag {path} holds; pass --task.")
        name = found.name
    task = get_task(name)
    obs, act = layout_names(task)
    if known is None:
        known = default_mapping(task.env_id, obs, act)
    demos = read_bag(path, known, obs, act, f"task {task.name!r}", progress)
    demos.meta.update(env_id=task.env_id, task=task.name)
    return demos
