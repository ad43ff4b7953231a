"""bench_node runs and prints its four figures (numbers are printed, never asserted)."""

from __future__ import annotations

import re
import subprocess
import sys

from conftest import node_env


def test_bench_node_prints_p50_and_p99():
    proc = subprocess.run([sys.executable, "-m", "liquidcontrol_ros.bench_node", "--iterations", "40",
                           "--backend", "numpy"], env=node_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = re.findall(r"^\s+(loop10|loop1|tick|step)\s+p50\s+([\d.]+) us\s+p99\s+([\d.]+) us", proc.stdout, re.M)
    assert [r[0] for r in rows] == ["loop10", "loop1", "tick", "step"]
    assert all(0 < float(p50) <= float(p99) for _, p50, p99 in rows)
