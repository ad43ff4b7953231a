"""Resolve paths of MJCF assets shipped in ``liquidcontrol.sim_assets``."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from liquidcontrol.errors import LiquidControlError


def asset_path(model_path: str | Path) -> Path:
    """Absolute path of an MJCF asset.

    Like Gymnasium's ``expand_model_path``: an absolute path is used as
    given; a relative one (e.g. ``"car/parking_scene.xml"``) is looked up in
    the installed ``liquidcontrol.sim_assets`` package, so it works from a
    wheel as well as from the source tree.

    Raises:
        LiquidControlError: if the file does not exist.
    """
    path = Path(model_path)
    if not path.is_absolute():
        # Regular (non-zipped) installs give a real directory; MuJoCo needs one
        # anyway to resolve <include> files next to the scene.
        path = Path(str(resources.files("liquidcontrol.sim_assets").joinpath(str(model_path))))
    if not path.is_file():
        raise LiquidControlError(
            f"MJCF asset {str(model_path)!r} not found (looked at {path}); expected a file "
            "inside liquidcontrol.sim_assets or an absolute path."
        )
    return path
