"""Where demonstrations come from: a native ``.npz`` file or a ROS 2 bag.

Kept out of :mod:`liquidcontrol.train.data` so that the bag reader and writer,
which build :class:`~liquidcontrol.train.data.Demonstrations`, and the data
module never import each other.
"""

from __future__ import annotations

from pathlib import Path

from liquidcontrol.train.data import Demonstrations


def load_demonstrations(path: str | Path, mapping: str = "", task: str = "", progress: bool = True) -> Demonstrations:
    """Demonstrations from a native ``.npz`` file or a ROS 2 bag (a bag folder or an ``.mcap``
    file; read through ``mapping``, default the mapping stored by ``liquidcontrol record``).
    Both give the same in-memory :class:`Demonstrations`; bags need the ``[bags]`` extra."""
    from liquidcontrol.bags.reader import is_bag

    if is_bag(path) or mapping:
        from liquidcontrol.bags import load_bag_demos

        return load_bag_demos(path, mapping, task, progress)  # type: ignore[no-any-return]
    return Demonstrations.load(path)
