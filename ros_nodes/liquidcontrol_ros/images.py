"""Reading ``sensor_msgs/Image`` into a card's uint8 image input, with no ROS import.

A card's image input is uint8 ``[H, W, 3]`` in the channel order its layout
names (``"RGB"``; ``"BGR"`` is read too). A message is accepted when its
``height`` and ``width`` equal the card's and its ``encoding`` is one of
:data:`ENCODINGS` (or the one the parameters require); rows may be padded
(``step`` larger than ``width`` x bytes per pixel), the padding is skipped.
Anything else raises :class:`ImageMismatch` with a sentence saying what came
and what the card takes; the node then stops the robot (it never resizes or
converts colour spaces itself: that is the camera driver's or
``image_proc``'s job, where it can be seen and tuned).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from liquidcontrol.errors import LiquidControlError

#: encoding -> (channel order of its first three bytes, bytes per pixel)
ENCODINGS = {"rgb8": ("RGB", 3), "bgr8": ("BGR", 3), "rgba8": ("RGB", 4), "bgra8": ("BGR", 4)}
CHANNEL_ORDERS = ("RGB", "BGR")


class ImageMismatch(Exception):
    """An image the card cannot take (size, encoding, or a data buffer too short for its step)."""


@dataclass(frozen=True)
class ImageSpec:
    """The image a card input takes: ``height`` x ``width`` pixels, channel ``order``."""

    height: int
    width: int
    order: str = "RGB"
    encoding: str = ""  # "" : any of ENCODINGS; else the only one accepted

    @classmethod
    def from_card_input(cls, inp: dict[str, Any], encoding: str = "") -> ImageSpec:
        """The spec of a card's image input; one clear error for a layout the node cannot fill."""
        height, width, depth = (int(v) for v in inp["shape"])
        order = inp["layout"].get("channels", "RGB")
        if depth != 3 or order not in CHANNEL_ORDERS:
            raise LiquidControlError(
                f"the card's image input {inp['name']!r} is {height}x{width}x{depth} {order!r}; policy_node "
                f"reads 3-channel {' or '.join(CHANNEL_ORDERS)} images only.")
        if encoding and encoding not in ENCODINGS:
            raise LiquidControlError(
                f"image encoding {encoding!r} is not supported; expected one of {', '.join(ENCODINGS)}.")
        return cls(height, width, order, encoding)

    def expected(self) -> str:
        names = list(ENCODINGS)
        encodings = self.encoding or ", ".join(names[:-1]) + " or " + names[-1]
        return f"{self.height}x{self.width} (height x width) {encodings}"

    def decode(self, msg: Any, out: np.ndarray) -> None:
        """Write ``msg``'s pixels into ``out`` (uint8 ``[H, W, 3]``, the card's order), or raise
        :class:`ImageMismatch` leaving ``out`` untouched."""
        try:
            height, width, step = int(msg.height), int(msg.width), int(msg.step)
            encoding = str(msg.encoding)
            raw = msg.data
        except (AttributeError, TypeError, ValueError):
            raise ImageMismatch("a message without the fields of sensor_msgs/Image") from None
        got = f"a {height}x{width} {encoding!r} image"
        if encoding not in ENCODINGS or (self.encoding and encoding != self.encoding):
            raise ImageMismatch(f"{got}; the card takes {self.expected()}")
        if (height, width) != (self.height, self.width):
            raise ImageMismatch(f"{got}; the card takes {self.expected()} (resize on the camera side)")
        order, depth = ENCODINGS[encoding]
        if step < width * depth:
            raise ImageMismatch(f"{got} with step {step}, less than width x {depth} bytes")
        data = _as_bytes(raw)
        if data.size < step * height:
            raise ImageMismatch(f"{got} with {data.size} data bytes, less than step x height = {step * height}")
        pixels = data[: step * height].reshape(height, step)[:, : width * depth].reshape(height, width, depth)
        if order == self.order:
            out[...] = pixels[..., :3]
        else:  # channel by channel: a third of the time of copying a reversed view
            out[..., 0], out[..., 1], out[..., 2] = pixels[..., 2], pixels[..., 1], pixels[..., 0]


def _as_bytes(raw: Any) -> np.ndarray:
    """``msg.data`` (rclpy: ``array.array('B')``; also bytes, lists) as a flat uint8 array."""
    try:
        return np.frombuffer(raw, dtype=np.uint8)
    except (TypeError, ValueError):
        try:
            values = np.asarray(raw)
        except (TypeError, ValueError):
            raise ImageMismatch("image data that is not a byte buffer") from None
        if values.ndim != 1 or values.dtype.kind not in "iu" or (values.size and (values.min() < 0 or values.max() > 255)):
            raise ImageMismatch("image data that is not a sequence of bytes") from None
        return values.astype(np.uint8)
