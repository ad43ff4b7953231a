"""Sim in the loop: the parking task's MuJoCo sim served as the car's topics, driven by policy_node.

``ros2 launch liquidcontrol_ros parking_sim.launch.py bundle:=/path/to/parking_bundle seeds:='[0, 1, 2]'``

The bridge runs lock-stepped to the policy (one control step per command
computed from its latest observation, so the policy node stamps commands
with their input's stamp) and prints each episode on ``/sim_bridge/episode``.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def generate_launch_description():
    share = get_package_share_directory("liquidcontrol_ros")
    return LaunchDescription([
        DeclareLaunchArgument("bundle", description="parking policy bundle folder"),
        DeclareLaunchArgument("seeds", default_value="[0, 1, 2, 3, 4]", description="episode seeds"),
        DeclareLaunchArgument("mode", default_value="lockstep", description="lockstep or realtime"),
        Node(
            package="liquidcontrol_ros",
            executable="sim_bridge_node",
            name="sim_bridge",
            output="screen",
            parameters=[{"seeds": LaunchConfiguration("seeds"), "mode": LaunchConfiguration("mode")}],
        ),
        Node(
            package="liquidcontrol_ros",
            executable="policy_node",
            name="policy_node",
            output="screen",
            parameters=[os.path.join(share, "config", "parking_car.yaml"),
                        {"bundle": LaunchConfiguration("bundle"), "command.stamp": "input"}],
        ),
    ])
