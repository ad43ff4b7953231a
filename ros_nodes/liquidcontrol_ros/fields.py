"""Reading numbers out of messages and writing them into messages, with no ROS import.

A *field path* names a number inside a message the way the message
definition does: attribute names joined by dots, with ``[i]`` for an
element of an array field, e.g. ``pose.pose.position.x``, ``position[0]``
(``sensor_msgs/JointState``), ``data[3]`` (``std_msgs/Float32MultiArray``).

A *transform* turns the value at that path into the card's channel:

=============  =====================================================  =================
transform      field must point at                                    channel value
=============  =====================================================  =================
``value``      a number                                               the number
``yaw_cos``    a quaternion (x, y, z, w)                              cos of its yaw
``yaw_sin``    a quaternion                                           sin of its yaw
``rot_ij``     a quaternion                                           entry (i, j) of its rotation
               (i, j in x, y, z: ``rot_xx`` ... ``rot_zz``)            matrix (body -> parent frame)
``range``      a number: a ``sensor_msgs/Range`` reading               +inf (no echo, REP 117) reads the
                                                                      channel's ``fail_value``, -inf
                                                                      (too close) its lower limit, and
                                                                      finite readings are clipped to the
                                                                      card's ``limits``
=============  =====================================================  =================
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from operator import attrgetter
from typing import Any

from liquidcontrol.errors import LiquidControlError

_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\[\d{1,6}\])?")
_AXES = "xyz"
TRANSFORMS = ("value", "yaw_cos", "yaw_sin", "range") + tuple(f"rot_{a}{b}" for a in _AXES for b in _AXES)

Getter = Callable[[Any], Any]


class MalformedMessage(Exception):
    """A message that does not hold a number at a configured field (dropped and counted)."""


def parse_path(path: Any, what: str) -> list[tuple[str, int | None]]:
    """``"a.b[2].c"`` as ``[("a", None), ("b", 2), ("c", None)]``; one clear error when malformed."""
    if not isinstance(path, str) or not path:
        raise LiquidControlError(f"{what} must be a field path such as 'pose.pose.position.x', got {path!r}.")
    parts: list[tuple[str, int | None]] = []
    for token in path.split("."):
        if not _TOKEN.fullmatch(token):
            raise LiquidControlError(
                f"{what} {path!r} is not a field path; expected names joined by dots, each optionally "
                "followed by [index], such as 'pose.pose.position.x' or 'position[0]'.")
        name, _, index = token.partition("[")
        parts.append((name, int(index[:-1]) if index else None))
    return parts


def make_getter(path: str, what: str) -> Getter:
    """A fast ``msg -> value at path`` (``operator.attrgetter`` between array indices)."""
    steps: list[Getter] = []
    dotted: list[str] = []
    for name, index in parse_path(path, what):
        dotted.append(name)
        if index is not None:
            steps.append(attrgetter(".".join(dotted)))
            steps.append(_item(index))
            dotted = []
    if dotted:
        steps.append(attrgetter(".".join(dotted)))
    if len(steps) == 1:
        return steps[0]

    def get(msg: Any) -> Any:
        for step in steps:
            msg = step(msg)
        return msg

    return get


def _item(index: int) -> Getter:
    def get(seq: Any) -> Any:
        return seq[index]

    return get


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        # numpy scalars (rclpy gives float arrays as numpy) are accepted through float().
        if type(value).__module__ != "numpy":
            raise MalformedMessage(f"a {type(value).__name__} where a number was expected")
    return float(value)


def _quaternion(q: Any) -> tuple[float, float, float, float]:
    x, y, z, w = _number(q.x), _number(q.y), _number(q.z), _number(q.w)
    norm = math.sqrt(x * x + y * y + z * z + w * w)
    if not norm > 1e-6:  # also False for NaN: keep NaN so the node stops on it
        if math.isnan(norm):
            return (math.nan,) * 4  # type: ignore[return-value]
        raise MalformedMessage("a zero quaternion")
    return x / norm, y / norm, z / norm, w / norm


def _yaw(q: Any) -> float:
    x, y, z, w = _quaternion(q)
    return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


def _rotation_entry(i: int, j: int) -> Callable[[Any], float]:
    def entry(q: Any) -> float:
        x, y, z, w = _quaternion(q)
        rows = (
            (1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)),
            (2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)),
            (2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)),
        )
        return rows[i][j]

    return entry


def make_extractor(path: str, transform: str, layout: dict[str, Any], what: str) -> Callable[[Any], float]:
    """``msg -> channel value`` for one card channel; raises :class:`MalformedMessage` on a bad message."""
    get = make_getter(path, f"{what} field")
    if transform not in TRANSFORMS:
        raise LiquidControlError(f"{what} has unknown transform {transform!r}; expected one of {', '.join(TRANSFORMS)}.")
    if transform == "value":
        post: Callable[[Any], float] = _number
    elif transform == "yaw_cos":
        def post(q: Any) -> float:
            return math.cos(_yaw(q))
    elif transform == "yaw_sin":
        def post(q: Any) -> float:
            return math.sin(_yaw(q))
    elif transform == "range":
        post = _range_reader(layout, what)
    else:
        post = _rotation_entry(_AXES.index(transform[4]), _AXES.index(transform[5]))

    def extract(msg: Any) -> float:
        try:
            return post(get(msg))
        except MalformedMessage:
            raise
        except (AttributeError, IndexError, KeyError, TypeError, ValueError, OverflowError) as exc:
            raise MalformedMessage(f"{type(exc).__name__} reading {path}") from None

    return extract


def _range_reader(layout: dict[str, Any], what: str) -> Callable[[Any], float]:
    limits = layout.get("limits")
    if not (isinstance(limits, list) and len(limits) == 2 and all(isinstance(v, (int, float)) for v in limits)):
        raise LiquidControlError(
            f"{what} uses transform 'range' but the card gives this channel no limits [low, high].")
    low, high = float(limits[0]), float(limits[1])
    fail = layout.get("fail_value")
    no_echo = float(fail) if isinstance(fail, (int, float)) and not isinstance(fail, bool) else high

    def read(value: Any) -> float:
        r = _number(value)
        if r == math.inf:
            return no_echo
        if r == -math.inf:
            return low
        return min(max(r, low), high) if r == r else r  # NaN passes through: the node stops on it

    return read


def make_setter(path: str, what: str) -> Callable[[Any, float], None]:
    """``(msg, value) -> None`` writing a float at ``path`` (attributes only, e.g. ``linear.x``)."""
    parts = parse_path(path, what)
    if any(index is not None for _, index in parts):
        raise LiquidControlError(f"{what} {path!r} must name attributes only, such as 'linear.x'.")
    names = [name for name, _ in parts]
    parent = attrgetter(".".join(names[:-1])) if len(names) > 1 else None
    last = names[-1]

    def put(msg: Any, value: float) -> None:
        setattr(parent(msg) if parent is not None else msg, last, value)

    return put
