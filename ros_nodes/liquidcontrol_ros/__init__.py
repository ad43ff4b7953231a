"""ROS 2 package of liquidcontrol: ``policy_node`` runs a bundle, ``sim_bridge_node`` serves a MuJoCo task.

``core``, ``config`` and ``fields`` hold the node logic without any ROS
import; ``policy_node`` and ``sim_bridge_node`` are the thin rclpy adapters.
"""
