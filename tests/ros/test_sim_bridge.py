"""sim_bridge_node on its own: real-time mode steps with the latest command, idles without one;
bad parameters are one error and exit status 2."""

from __future__ import annotations

from conftest import run_node, start_node, stop


def test_realtime_mode_follows_the_latest_command(ros_factory, tmp_path):
    from geometry_msgs.msg import TwistStamped
    from nav_msgs.msg import Odometry
    from rclpy.qos import qos_profile_sensor_data

    bridge = start_node("sim_bridge_node", "-p", "mode:=realtime", "-p", "seeds:=[4]", "-p", "policy_reset_service:=''",
                        log=tmp_path / "bridge.log")
    try:
        ros = ros_factory()
        node = ros.add(ros.rclpy.create_node("driver", context=ros.context))
        odom: list = []
        node.create_subscription(Odometry, "odom", odom.append, qos_profile_sensor_data)
        cmd = node.create_publisher(TwistStamped, "cmd_vel", 10)
        assert ros.spin_until(lambda: len(odom) >= 5, 20.0), (tmp_path / "bridge.log").read_text()
        ros.spin_for(1.0)  # no command: the idle command, the car stands
        idle = odom[-1].pose.pose.position.x
        assert abs(idle - odom[0].pose.pose.position.x) < 1e-3
        n = len(odom)
        forward = TwistStamped()
        forward.twist.linear.x = 0.3  # m/s, straight
        timer = node.create_timer(0.05, lambda: cmd.publish(forward))
        ros.spin_for(1.5)
        node.destroy_timer(timer)
        assert len(odom) - n >= 20  # stepping at the control period (20 Hz) on its own
        assert odom[-1].pose.pose.position.x - idle > 0.2  # ~0.3 m/s for 1.5 s, after the 2 m/s^2 ramp
        assert odom[-1].twist.twist.linear.x > 0.25
    finally:
        stop(bridge)


def test_unknown_task_is_one_error_and_exit_2():
    proc = run_node("sim_bridge_node", "-p", "task:=boat")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2 and "parameter task is 'boat'; expected one of parking, driving, drone, drone_motors." in out
    assert "Traceback" not in out


def test_malformed_ros_arguments_are_one_error_and_exit_2():
    proc = run_node("policy_node", "-p", "bundle:=")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2 and "cannot start: the ROS arguments were not accepted" in out
    assert "Traceback" not in out
