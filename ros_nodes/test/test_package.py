"""colcon test: the package's files are in place and its node logic imports without ROS."""

from pathlib import Path
from xml.etree import ElementTree

PACKAGE = Path(__file__).resolve().parents[1]


def test_package_xml_is_format_3_ament_python():
    root = ElementTree.parse(PACKAGE / "package.xml").getroot()
    assert root.get("format") == "3"
    assert root.findtext("name") == "liquidcontrol_ros"
    assert root.find("export").findtext("build_type") == "ament_python"


def test_launch_files_compile():
    files = sorted((PACKAGE / "launch").glob("*.launch.py"))
    assert len(files) == 2
    for path in files:
        code = compile(path.read_text(), str(path), "exec")
        assert "generate_launch_description" in code.co_names


def test_node_logic_imports_without_ros():
    from liquidcontrol_ros import config, core, fields

    assert core.DROP_REASONS and config.COMMAND_TYPES and fields.TRANSFORMS


def test_parameter_files_name_the_policy_node():
    for name in ("parking_car.yaml", "driving_camera.yaml", "drone_rates.yaml", "drone_motors.yaml"):
        text = (PACKAGE / "config" / name).read_text()
        assert text.startswith("#") and "policy_node:\n  ros__parameters:" in text
