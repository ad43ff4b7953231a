"""sensor_msgs/Image inputs of policy_node (the camera bundle driving_cfc_ncp19), without ROS:
decoding, the start-up checks against the card, the run-time stop on an image of the wrong size or
encoding, and the camera car driven through its mapping exactly like the runtime called directly."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import DRIVING_BUNDLE, driving_params, image_msg, ns
from liquidcontrol_ros.core import PolicyCore
from liquidcontrol_ros.images import ImageMismatch, ImageSpec
from liquidcontrol_ros.sim_bridge import DrivingSim, in_process_results

from liquidcontrol.errors import LiquidControlError

H, W = 64, 128


def _pixels(seed: int = 0, h: int = H, w: int = W) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def _speed(v: float) -> object:
    return ns(twist=ns(twist=ns(linear=ns(x=v, y=0.0, z=0.0))))


def _error(params) -> str:
    with pytest.raises(LiquidControlError) as info:
        PolicyCore(params)
    text = str(info.value)
    assert "\n" not in text and text.endswith(".")
    return text


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "rgba8", "bgra8"])
@pytest.mark.parametrize("pad", [0, 5])
def test_decode_gives_the_card_rgb_pixels_for_every_encoding_and_row_padding(encoding, pad):
    rgb = _pixels(1)
    out = np.zeros((H, W, 3), np.uint8)
    ImageSpec(H, W).decode(image_msg(rgb, encoding, pad), out)
    np.testing.assert_array_equal(out, rgb)


def test_decode_into_a_bgr_card_flips_rgb8():
    rgb = _pixels(2)
    out = np.zeros((H, W, 3), np.uint8)
    ImageSpec(H, W, order="BGR").decode(image_msg(rgb, "rgb8"), out)
    np.testing.assert_array_equal(out, rgb[..., ::-1])


def test_decode_reads_rclpy_style_array_data():
    import array

    rgb = _pixels(3)
    msg = image_msg(rgb, "rgb8", pad=2)
    msg.data = array.array("B", msg.data)  # what rclpy hands over for uint8[]
    out = np.zeros((H, W, 3), np.uint8)
    ImageSpec(H, W).decode(msg, out)
    np.testing.assert_array_equal(out, rgb)


@pytest.mark.parametrize("change, words", [
    ({"height": 480, "width": 640}, "480x640 'rgb8' image; the card takes 64x128"),
    ({"encoding": "mono8"}, "'mono8' image"),
    ({"encoding": "bgr16"}, "'bgr16' image"),
    ({"step": 100}, "step 100, less than width x 3"),
    ({"data": b"\x00" * 1000}, "1000 data bytes, less than step x height = 24576"),
    ({"data": [1.5] * 30000}, "not a sequence of bytes"),
])
def test_images_the_card_cannot_take_are_one_sentence_each(change, words):
    msg = image_msg(_pixels(4))
    for key, value in change.items():
        setattr(msg, key, value)
    out = np.zeros((H, W, 3), np.uint8)
    before = out.copy()
    with pytest.raises(ImageMismatch, match=words.replace("(", r"\(").replace(")", r"\)")):
        ImageSpec(H, W).decode(msg, out)
    np.testing.assert_array_equal(out, before)  # untouched


def test_a_required_encoding_rejects_the_other_one():
    with pytest.raises(ImageMismatch, match="'bgr8' image; the card takes 64x128 .height x width. rgb8"):
        ImageSpec(H, W, encoding="rgb8").decode(image_msg(_pixels(), "bgr8"), np.zeros((H, W, 3), np.uint8))


# -- start-up ------------------------------------------------------------------
def test_the_camera_mapping_binds_the_image_and_the_speed():
    core = PolicyCore(driving_params())
    assert [c.name for c in core.config.channels] == ["image", "speed.speed"]
    assert core.config.topics() == {"camera/image_raw": "sensor_msgs/msg/Image", "odom": "nav_msgs/msg/Odometry"}
    assert core.period == 0.1 and core._buffers[0].shape == (H, W, 3) and core._buffers[0].dtype == np.uint8


@pytest.mark.parametrize("overrides, words", [
    ({"inputs.image.topic": None, "inputs.image.type": None, "inputs.image.height": None,
      "inputs.image.width": None}, "needs input channel 'image' but the parameters give it no source (set inputs.image.topic and .type)"),
    ({"inputs.image.type": "sensor_msgs/msg/CompressedImage"}, "must come from a sensor_msgs/msg/Image topic"),
    ({"inputs.image.height": 480}, "configured as height 480 but it is the card's image input, 64x128"),
    ({"inputs.image.width": 640}, "configured as width 640"),
    ({"inputs.image.field": "data"}, "so its settings are encoding, height, topic, type, width; got 'field'"),
    ({"inputs.image.encoding": "yuv422"}, "image encoding 'yuv422' is not supported"),
    ({"inputs.speed.speed.topic": "camera/image_raw", "inputs.speed.speed.type": "sensor_msgs/msg/Image"},
     "reads topic 'camera/image_raw', which carries an image input"),
])
def test_start_up_checks_of_the_image_mapping(overrides, words):
    assert words in _error(driving_params(**overrides))


def test_the_shipped_camera_file_is_what_the_tests_use():
    from conftest import params_file

    shipped = params_file("driving_camera.yaml", bundle=str(DRIVING_BUNDLE))
    ours = driving_params()
    assert {k: shipped[k] for k in ours} == ours
    assert PolicyCore(shipped).config.command.constant == {"linear.x": 1.2}


@pytest.mark.parametrize("overrides, words", [
    ({"command.constant.angular.z": 0.1}, "command.constant.angular.z is a field an action already fills"),
    ({"command.constant.linear.w": 0.1}, "command.constant.linear.w must name one of linear.x"),
    ({"command.constant.linear.x": float("nan")}, "command.constant.linear.x must be a finite number, got nan"),
    ({"command.type": "float32_array", "command.fields.steering": "data[0]"},
     "command.constant fills Twist fields; a float32_array command has none"),
])
def test_constant_command_fields_are_checked(overrides, words):
    assert words in _error(driving_params(**overrides))


def test_the_vector_only_parameters_fail_on_the_camera_card():
    from conftest import parking_params

    text = _error(parking_params(bundle=str(DRIVING_BUNDLE)))
    assert "has no such channel" in text  # the parking channels are not the camera card's


# -- run time ------------------------------------------------------------------
def test_a_wrong_image_stops_counts_and_recovers_on_the_next_good_one():
    core = PolicyCore(driving_params())
    good = image_msg(_pixels(5), "bgr8", pad=3)
    assert core.on_message("camera/image_raw", good, 10.0, 10.0)
    assert core.on_message("odom", _speed(1.2), 10.0, 10.0)
    driven = core.tick(10.0)
    assert not driven.stopped and len(driven.values) == 1
    big = image_msg(_pixels(6, 480, 640))
    assert not core.on_message("camera/image_raw", big, 10.05, 10.05)
    mono = image_msg(_pixels(7))
    mono.encoding = "mono8"
    assert not core.on_message("camera/image_raw", mono, 10.08, 10.08)
    stopped = core.tick(10.1)
    assert stopped.stopped and stopped.values == [0.0]
    assert stopped.reason.startswith("unusable image: camera/image_raw sent a 64x128 'mono8' image")
    assert core.tick(10.2).stopped  # still the last image received
    ok, summary, values = core.diagnostics()
    assert not ok and "unusable image" in summary
    assert values["image_rejected"] == "2" and values["image_stops"] == "2" and values["dropped_malformed"] == "0"
    assert core.on_message("camera/image_raw", good, 10.25, 10.25)
    assert core.on_message("odom", _speed(1.2), 10.25, 10.25)
    assert not core.tick(10.3).stopped


def test_a_silent_camera_is_a_stale_stop():
    core = PolicyCore(driving_params())
    core.on_message("camera/image_raw", image_msg(_pixels()), 1.0, 1.0)
    core.on_message("odom", _speed(0.0), 1.0, 1.0)
    assert not core.tick(1.0).stopped
    core.on_message("odom", _speed(0.0), 1.6, 1.6)
    cmd = core.tick(1.6)
    assert cmd.stopped and cmd.reason.startswith("stale input: camera/image_raw")


def test_vector_parameters_have_no_image_counters():
    from conftest import parking_params

    _, _, values = PolicyCore(parking_params()).diagnostics()
    assert "image_rejected" not in values


def test_camera_car_through_the_mapping_drives_like_in_process_evaluation():
    """Two seeds (an episode is about 200 rendered steps): the node logic fed bgr8 images with padded
    rows gives the same episodes, step for step, as the runtime called on the env's observations."""
    seeds = [0, 1]
    core = PolicyCore(driving_params())
    sim = DrivingSim(seeds)
    now = 100.0
    while sim.start_next():
        core.reset()
        result = None
        while result is None:
            s = sim.sensors()
            core.on_message("camera/image_raw", image_msg(s.image, "bgr8", pad=4), now, now)
            core.on_message("odom", _speed(s.speed), now, now)
            np.testing.assert_array_equal(core._buffers[0], sim.obs["image"])
            cmd = core.tick(now)
            assert not cmd.stopped, cmd.reason
            result = sim.step(sim.action_from_command(cmd.values))
            now += sim.period
    reference = in_process_results(str(DRIVING_BUNDLE), seeds, task="driving")
    assert [(r.success, r.steps) for r in sim.results] == [(r.success, r.steps) for r in reference]
    assert sum(r.success for r in reference) == len(seeds)
