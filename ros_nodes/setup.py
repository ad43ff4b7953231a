from glob import glob

from setuptools import find_packages, setup

package_name = "liquidcontrol_ros"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
        ("share/" + package_name + "/launch", glob("launch/*.launch.py")),
        ("share/" + package_name + "/config", glob("config/*.yaml")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="liquidcontrol maintainers",
    maintainer_email="maintainers@liquidcontrol.invalid",
    description="liquidcontrol policy bundles as ROS 2 nodes, and a MuJoCo sim bridge.",
    license="Apache-2.0",
    extras_require={"test": ["pytest"]},
    entry_points={
        "console_scripts": [
            "policy_node = liquidcontrol_ros.policy_node:main",
            "sim_bridge_node = liquidcontrol_ros.sim_bridge_node:main",
            "bench_node = liquidcontrol_ros.bench_node:main",
        ],
    },
)
