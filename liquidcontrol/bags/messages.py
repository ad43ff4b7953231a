"""ROS 2 messages as rosbags builds them: defaults, field paths, headings, stamps.

Messages are the dataclasses of a rosbags typestore (ROS 2 Jazzy definitions;
the message types used here are the same in Humble). Numeric arrays are
numpy arrays, as rosbags serialises them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from liquidcontrol.bags.mapping import Channel
from liquidcontrol.errors import LiquidControlError

NS = 1_000_000_000
_NUMPY = {"bool": np.bool_, "byte": np.uint8, "char": np.uint8, "int8": np.int8, "uint8": np.uint8,
          "int16": np.int16, "uint16": np.uint16, "int32": np.int32, "uint32": np.uint32,
          "int64": np.int64, "uint64": np.uint64, "float32": np.float32, "float64": np.float64}


def typestore() -> Any:
    from rosbags.typesys import Stores, get_typestore

    return get_typestore(Stores.ROS2_JAZZY)


def default_message(store: Any, msgtype: str) -> Any:
    """A message of ``msgtype`` with every field zero / empty."""
    if msgtype not in store.fielddefs:
        raise LiquidControlError(f"message type {msgtype} is not a standard ROS 2 message type known to rosbags.")
    _consts, fields = store.fielddefs[msgtype]
    return store.types[msgtype](**{name: _default(store, node) for name, node in fields})


def _default(store: Any, node: Any) -> Any:
    kind, spec = node
    kind = int(kind)
    if kind == 1:  # BASE
        base = spec[0]
        return "" if base == "string" else (False if base == "bool" else (0.0 if base.startswith("float") else 0))
    if kind == 2:  # NAME: a nested message
        return default_message(store, spec)
    inner, length = spec  # ARRAY (3, fixed length) or SEQUENCE (4)
    if int(inner[0]) == 1 and inner[1][0] in _NUMPY:
        return np.zeros(length if kind == 3 else 0, dtype=_NUMPY[inner[1][0]])
    return [_default(store, inner) for _ in range(length if kind == 3 else 0)]


def set_path(obj: Any, steps: list[str | int], value: Any) -> None:
    """Set ``obj.a.b[i] = value``, growing a sequence that is too short."""
    head, rest = steps[0], steps[1:]
    if not rest:
        _put(obj, head, value)
        return
    child = getattr(obj, head) if isinstance(head, str) else obj[head]
    if isinstance(rest[0], int) and len(child) <= rest[0]:
        child = _grow(child, rest[0] + 1)
        _put(obj, head, child)
    set_path(child, rest, value)


def _put(obj: Any, key: str | int, value: Any) -> None:
    if isinstance(key, int):
        obj[key] = value
    else:
        setattr(obj, key, value)


def _grow(seq: Any, n: int) -> Any:
    if isinstance(seq, np.ndarray):
        return np.concatenate([seq, np.zeros(n - len(seq), dtype=seq.dtype)])
    return list(seq) + [0.0] * (n - len(seq))


def get_path(msg: Any, channel: Channel, msgtype: str) -> Any:
    """``msg.a.b[i]``; a missing field or an index past the end raises one clear error."""
    value = msg
    done = ""
    for step in channel.steps():
        if isinstance(step, int):
            try:
                n = len(value)
            except TypeError:
                raise LiquidControlError(f"field {done} of topic {channel.topic} ({msgtype}) is not a sequence, so "
                                         f"{channel.field} cannot index it (channel {channel.name!r}).") from None
            if step >= n:
                raise LiquidControlError(f"field {done} of topic {channel.topic} holds {n} values, so "
                                         f"{channel.field} is out of range (channel {channel.name!r}).")
            value = value[step]
            done += f"[{step}]"
        else:
            if not hasattr(value, "__dataclass_fields__") or not hasattr(value, step):
                fields = list(getattr(value, "__dataclass_fields__", {}))
                raise LiquidControlError(
                    f"topic {channel.topic} ({msgtype}) has no field {(done + '.' if done else '') + step} "
                    f"(channel {channel.name!r}); {'its fields there are ' + ', '.join(fields) if fields else 'it is a plain value'}.")
            value = getattr(value, step)
            done = f"{done}.{step}" if done else step
    return value


def channel_value(msg: Any, channel: Channel, msgtype: str) -> float:
    """The channel's value from one message: ``convert(field) / scale``."""
    raw = get_path(msg, channel, msgtype)
    if channel.convert == "range":
        value = float(raw)
        if math.isinf(value) and hasattr(msg, "max_range") and hasattr(msg, "min_range"):
            value = float(msg.max_range if value > 0 else msg.min_range)  # REP 117: no echo / too close
        return value / channel.scale
    if channel.convert == "none":
        if isinstance(raw, (bool, np.bool_)) or not isinstance(raw, (int, float, np.integer, np.floating)):
            shape = f"a sequence of {len(raw)} values" if hasattr(raw, "__len__") and not isinstance(raw, str) \
                else f"a {type(raw).__name__}"
            raise LiquidControlError(f"field {channel.field} of topic {channel.topic} ({msgtype}) is {shape}, not one "
                                     f"number (channel {channel.name!r}); index or extend the field path.")
        value = float(raw)
    else:
        if not all(hasattr(raw, k) for k in ("x", "y", "z", "w")):
            raise LiquidControlError(f"convert {channel.convert} needs a geometry_msgs/Quaternion, but field "
                                     f"{channel.field} of topic {channel.topic} is not one (channel {channel.name!r}).")
        value = _from_quaternion(channel.convert, float(raw.x), float(raw.y), float(raw.z), float(raw.w))
    return value / channel.scale


def _from_quaternion(convert: str, x: float, y: float, z: float, w: float) -> float:
    """Heading (rotation about z, REP-103) of a quaternion, or its cosine / sine: the rotation
    matrix entries R00 = w^2 + x^2 - y^2 - z^2 and R10 = 2 (w z + x y) (equal to the usual
    1 - 2 (y^2 + z^2) for a unit quaternion)."""
    cos_yaw = w * w + x * x - y * y - z * z
    sin_yaw = 2.0 * (w * z + x * y)
    if convert == "cos_yaw":
        return cos_yaw
    if convert == "sin_yaw":
        return sin_yaw
    return math.atan2(sin_yaw, cos_yaw)


def yaw_quaternion(yaw: float) -> tuple[float, float, float, float]:
    """(x, y, z, w) of a rotation by ``yaw`` about z."""
    return 0.0, 0.0, math.sin(yaw / 2.0), math.cos(yaw / 2.0)


def heading_quaternion(cos_value: float | None, sin_value: float | None,
                       yaw: float | None) -> tuple[float, float, float, float]:
    """(x, y, z, w) of the heading to write for the recorded channels.

    With a ``yaw``, or only one of cos / sin: the unit quaternion of that
    heading. With both: ``w = sqrt((r + cos) / 2)``, ``z = sign(sin) sqrt((r - cos) / 2)``
    with ``r = hypot(cos, sin)``: the rotation by ``atan2(sin, cos)`` scaled
    by ``sqrt(r)``. A float32 (cos, sin) pair lies on the unit circle only to
    float32 precision (``|r - 1|`` ~ 1e-7, so the quaternion is unit to that
    precision too), and this one reads back (:func:`channel_value`:
    ``w^2 - z^2`` and ``2 w z``) as exactly the recorded float32 values: the bag
    is then value for value the in-memory demonstration.
    """
    if yaw is not None or cos_value is None or sin_value is None:
        if yaw is None:
            yaw = math.acos(max(-1.0, min(1.0, cos_value))) if cos_value is not None else \
                math.asin(max(-1.0, min(1.0, float(sin_value or 0.0))))
        return yaw_quaternion(float(yaw))
    c, s = float(cos_value), float(sin_value)
    r = math.hypot(c, s)
    # r - c (or r + c) written as s^2 / (r + c): no cancellation when the heading is near 0 (or pi).
    if c >= 0:
        w2 = (r + c) / 2.0
        z2 = s * s / (2.0 * (r + c)) if r + c > 0 else 0.0
    else:
        z2 = (r - c) / 2.0
        w2 = s * s / (2.0 * (r - c))
    return 0.0, 0.0, math.copysign(math.sqrt(z2), s), math.sqrt(w2)


def stamp(store: Any, ns: int) -> Any:
    return store.types["builtin_interfaces/msg/Time"](sec=ns // NS, nanosec=ns % NS)


def message_stamp(msg: Any, log_ns: int) -> int:
    """``header.stamp`` in ns when the message has a header, else the bag's log time."""
    header = getattr(msg, "header", None)
    st = getattr(header, "stamp", None)
    if st is None:
        return int(log_ns)
    return int(st.sec) * NS + int(st.nanosec)
