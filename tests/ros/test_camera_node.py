"""policy_node with the camera bundle (driving_cfc_ncp19) over real ROS 2: sensor_msgs/Image in, the
steering command out; an image of the wrong size or encoding stops the car with a throttled warning
and is counted in /diagnostics; a mapping that does not fit the card is one error at start-up."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import PACKAGE, ROOT, run_node, start_node, stop

DRIVING_BUNDLE = ROOT / "policies" / "pretrained" / "driving_cfc_ncp19"
DRIVING_YAML = PACKAGE / "config" / "driving_camera.yaml"
H, W = 64, 128


class FakeCamera:
    """Publishes a camera image (any size / encoding, rows padded) and wheel odometry; records cmd_vel."""

    def __init__(self, context) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        from geometry_msgs.msg import TwistStamped
        from nav_msgs.msg import Odometry
        from rclpy.node import Node
        from rclpy.qos import qos_profile_sensor_data
        from sensor_msgs.msg import Image

        self.node = Node("fake_camera_car", context=context)
        self.Image, self.Odometry = Image, Odometry
        self.image_pub = self.node.create_publisher(Image, "camera/image_raw", qos_profile_sensor_data)
        self.odom_pub = self.node.create_publisher(Odometry, "odom", qos_profile_sensor_data)
        self.commands: list = []
        self.diagnostics: list = []
        self.node.create_subscription(TwistStamped, "cmd_vel", self.commands.append, 10)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self.diagnostics.append, 10)

    def publish(self, rgb: np.ndarray, encoding: str = "bgr8", pad: int = 6, speed: float = 1.2) -> None:
        stamp = self.node.get_clock().now().to_msg()
        pixels = rgb[..., ::-1] if encoding == "bgr8" else rgb
        h, w = pixels.shape[:2]
        rows = np.full((h, w * 3 + pad), 0xEE, np.uint8)
        rows[:, : w * 3] = pixels.reshape(h, -1)
        img = self.Image(height=h, width=w, encoding=encoding, is_bigendian=0, step=w * 3 + pad,
                         data=rows.tobytes())
        img.header.stamp, img.header.frame_id = stamp, "camera"
        odom = self.Odometry()
        odom.header.stamp = stamp
        odom.twist.twist.linear.x = speed
        self.image_pub.publish(img)
        self.odom_pub.publish(odom)

    def matched(self) -> bool:
        return (self.image_pub.get_subscription_count() > 0 and self.odom_pub.get_subscription_count() > 0
                and self.node.count_publishers("cmd_vel") > 0)


def test_image_size_that_does_not_fit_the_card_is_one_error_and_exit_2():
    proc = run_node("policy_node", "--params-file", str(DRIVING_YAML), "-p", f"bundle:={DRIVING_BUNDLE}",
                    "-p", "inputs.image.height:=480")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert "input channel 'image' is configured as height 480 but it is the card's image input, 64x128" in out
    assert "Traceback" not in out and out.count("[ERROR]") == 1


def test_camera_in_steering_out_and_a_wrong_image_is_a_counted_throttled_stop(ros_factory, tmp_path):
    from liquidcontrol.runtime import PolicyRunner

    ros = ros_factory()
    cam = FakeCamera(ros.context)
    ros.add(cam.node)
    log = tmp_path / "policy.log"
    policy = start_node("policy_node", "--params-file", str(DRIVING_YAML), "-p", f"bundle:={DRIVING_BUNDLE}",
                        log=log)
    rgb = np.random.default_rng(0).integers(0, 256, size=(H, W, 3), dtype=np.uint8)
    frame = {"rgb": rgb, "encoding": "bgr8"}
    try:
        assert ros.spin_until(cam.matched, 20.0), log.read_text()
        timer = cam.node.create_timer(0.05, lambda: cam.publish(frame["rgb"], frame["encoding"]))
        assert ros.spin_until(lambda: any(m.twist.angular.z != 0.0 for m in cam.commands), 10.0), log.read_text()
        # The first driven command is the policy's first step on this image and speed (zero state, dt = period).
        first = next(m for m in cam.commands if m.twist.angular.z != 0.0)
        runner = PolicyRunner(DRIVING_BUNDLE)
        expected = 0.38 * float(np.clip(runner.step({"image": rgb, "speed": np.array([1.2], np.float32)}, 0.1)[0], -1, 1))
        assert first.twist.angular.z == pytest.approx(expected, abs=1e-5)
        assert first.twist.linear.x == 1.2  # the cruise speed (command.constant), 0 in the stop command
        # A 480x640 camera (not resized) for two seconds: stop commands, counted, warned at most 1/s.
        frame["rgb"] = np.zeros((480, 640, 3), np.uint8)
        ros.spin_for(2.0)
        recent = cam.commands[-10:]
        assert all(m.twist.angular.z == 0.0 and m.twist.linear.x == 0.0 for m in recent)
        # mono8 of the right size is refused as well.
        frame["rgb"], frame["encoding"] = rgb, "mono8"
        ros.spin_for(1.2)  # longer than the warning throttle, so it is warned too
        assert all(m.twist.angular.z == 0.0 for m in cam.commands[-8:])
        got = {}

        def counted() -> bool:
            for array in cam.diagnostics:
                values = {kv.key: kv.value for kv in array.status[0].values}
                if int(values.get("image_rejected", 0)) >= 40:
                    got.update(values)
                    return True
            return False

        assert ros.spin_until(counted, 3.0), cam.diagnostics[-1:] if cam.diagnostics else "no diagnostics"
        assert int(got["image_stops"]) >= 15 and got["dropped_malformed"] == "0"
        # Back to a good image: driving again.
        frame["encoding"] = "rgb8"
        n = len(cam.commands)
        assert ros.spin_until(lambda: any(m.twist.angular.z != 0.0 for m in cam.commands[n:]), 3.0)
        cam.node.destroy_timer(timer)
    finally:
        stop(policy)
    text = log.read_text()
    warnings = [line for line in text.splitlines() if "unusable image" in line]
    assert warnings and "480x640 'bgr8' image; the card takes 64x128" in warnings[0]
    assert len(warnings) <= 5  # about 32 stopped ticks in 3.2 s, warned at most once a second
    assert any("'mono8' image" in line for line in warnings)
    assert "Traceback" not in text
