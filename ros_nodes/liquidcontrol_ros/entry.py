"""The ``main()`` every node of this package shares: init, build, spin, exit cleanly.

A :class:`~liquidcontrol.errors.LiquidControlError` while the node is built
(a bad bundle, parameters that do not fit the card) is one logged sentence
``cannot start: ...`` and exit status 2, never a traceback or a crash loop
(the launch files do not respawn). Ctrl-C and an external shutdown end it
with status 0. A node may define ``on_exit()`` (the sim bridge writes its
recording there); an error in it is logged and gives status 1.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import rclpy
from rclpy.executors import ExternalShutdownException

from liquidcontrol.errors import LiquidControlError

EXIT_BAD_CONFIG = 2
EXIT_FAILED_ON_EXIT = 1


def run_node(name: str, make: Callable[[], Any], spin: Callable[[Any], None] = rclpy.spin,
             args: list[str] | None = None) -> int:
    """Run the node ``make()`` builds until shutdown; returns the process exit status."""
    try:
        rclpy.init(args=args)
    except Exception as exc:  # rcl's own error type, e.g. for a malformed -p override
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"[ERROR] [{name}]: cannot start: the ROS arguments were not accepted ({first[:200]}).", file=sys.stderr)
        return EXIT_BAD_CONFIG
    node = None
    code = 0
    try:
        node = make()
        spin(node)
    except LiquidControlError as exc:
        rclpy.logging.get_logger(name).error(f"cannot start: {exc}")
        code = EXIT_BAD_CONFIG
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            code = _on_exit(node, name) or code
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return code


def _on_exit(node: Any, name: str) -> int:
    hook = getattr(node, "on_exit", None)
    if hook is None:
        return 0
    try:
        hook()
    except (LiquidControlError, OSError) as exc:
        rclpy.logging.get_logger(name).error(f"on exit: {exc}")
        return EXIT_FAILED_ON_EXIT
    return 0
