"""Run policy_node on a robot: ``ros2 launch liquidcontrol_ros policy.launch.py bundle:=/path/to/bundle``.

Arguments: ``bundle`` (a policy bundle folder, required), ``params`` (the
parameters file; default the parking car's), ``backend`` (onnxruntime or
numpy). The node is not respawned: a bad bundle or parameters file logs one
error and stops here instead of looping.
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
        DeclareLaunchArgument("bundle", description="policy bundle folder (policy.onnx + card.json)"),
        DeclareLaunchArgument("params", default_value=os.path.join(share, "config", "parking_car.yaml"),
                              description="policy_node parameters file"),
        DeclareLaunchArgument("backend", default_value="onnxruntime", description="onnxruntime or numpy"),
        Node(
            package="liquidcontrol_ros",
            executable="policy_node",
            name="policy_node",
            output="screen",
            respawn=False,
            parameters=[LaunchConfiguration("params"),
                        {"bundle": LaunchConfiguration("bundle"), "backend": LaunchConfiguration("backend")}],
        ),
    ])
