"""entry.run_node, the main() the nodes share: exit status 2 with one sentence for a node that cannot
start, 1 when its on_exit hook fails, 0 after a clean run."""

from __future__ import annotations

import pytest
from liquidcontrol_ros.entry import run_node

from liquidcontrol.errors import LiquidControlError


class _Node:
    def __init__(self, fail_on_exit: bool = False) -> None:
        from rclpy.node import Node

        self.inner = Node("entry_test")
        self.fail_on_exit = fail_on_exit
        self.exited = False

    def on_exit(self) -> None:
        self.exited = True
        if self.fail_on_exit:
            raise LiquidControlError("cannot write the recording to /nowhere: Permission denied.")

    def destroy_node(self) -> None:
        self.inner.destroy_node()


def test_a_node_that_cannot_start_is_exit_2_with_one_sentence(capfd):
    def make():
        raise LiquidControlError("parameter task is 'boat'; expected one of parking.")

    assert run_node("entry_test", make, spin=lambda node: None, args=[]) == 2
    err = capfd.readouterr().err
    assert "[entry_test]: cannot start: parameter task is 'boat'; expected one of parking." in err
    assert "Traceback" not in err


@pytest.mark.parametrize("fail, code", [(False, 0), (True, 1)])
def test_on_exit_runs_once_at_the_end_and_its_error_is_exit_1(capfd, fail, code):
    made = []

    def make():
        made.append(_Node(fail))
        return made[0]

    def spin(node):
        raise KeyboardInterrupt  # Ctrl-C

    assert run_node("entry_test", make, spin=spin, args=[]) == code
    assert made[0].exited
    err = capfd.readouterr().err
    assert ("on exit: cannot write the recording to /nowhere: Permission denied." in err) == fail


def test_malformed_ros_arguments_are_exit_2(capfd):
    assert run_node("entry_test", lambda: None, args=["x", "--ros-args", "-p", "broken"]) == 2
    assert "cannot start: the ROS arguments were not accepted" in capfd.readouterr().err
