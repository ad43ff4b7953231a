"""The deploy runtime imports nothing beyond numpy and onnxruntime, and its source is Python 3.10.

A subprocess blocks torch, mujoco, gymnasium, onnx (and the other training and simulation
packages) with a ``sys.meta_path`` finder, then imports ``liquidcontrol.runtime`` and steps every
shipped bundle with both backends. The same blocker makes ``liquidcontrol.export`` (which needs
torch) fail, which shows the blocker catches a dependency when there is one.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BLOCKED = ("torch", "mujoco", "gymnasium", "onnx", "onnxscript", "cv2", "safetensors", "tensorboard",
           "stable_baselines3", "rosbags", "matplotlib", "imageio", "tqdm")

BLOCKER = """
import importlib.abc, json, sys
BLOCKED = set(json.loads(sys.argv[1]))
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"blocked: {name}", name=name)
        return None
sys.meta_path.insert(0, Block())
"""

STEP_SHIPPED = BLOCKER + """
import numpy as np
from liquidcontrol.runtime import PolicyRunner, available_pretrained, load_card, pretrained
out = {}
for name in available_pretrained():
    card = load_card(pretrained(name))
    if card.is_dict:  # camera bundles: onnxruntime only (the numpy backend takes vectors)
        obs = {i["key"]: np.full(i["shape"], 100 if i["dtype"] == "uint8" else 0.1, i["dtype"]) for i in card.inputs}
        backends = ("onnxruntime",)
    else:
        obs, backends = np.full(card.obs_dim, 0.1, np.float32), ("onnxruntime", "numpy")
    out[name] = {b: PolicyRunner(pretrained(name), backend=b).step(obs, card.control_period_s).tolist()
                 for b in backends}
loaded = sorted(m for m in sys.modules if m.partition(".")[0] in BLOCKED)
print(json.dumps({"steps": out, "loaded": loaded}))
"""

IMPORT_EXPORT = BLOCKER + """
import liquidcontrol.export
"""


def _run(script: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", script, json.dumps(BLOCKED)], cwd=REPO, capture_output=True,
                          text=True, timeout=120)


def test_runtime_steps_every_shipped_bundle_without_training_or_sim_packages():
    from liquidcontrol.runtime import load_card

    proc = _run(STEP_SHIPPED)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.splitlines()[-1])
    shipped = sorted(p.parent.name for p in (REPO / "policies" / "pretrained").glob("*/card.json"))
    assert sorted(out["steps"]) == shipped and len(shipped) >= 5
    for name, actions in out["steps"].items():
        if load_card(REPO / "policies" / "pretrained" / name).is_dict:  # a camera bundle
            assert set(actions) == {"onnxruntime"} and all(abs(a) <= 1.0 for a in actions["onnxruntime"])
            continue
        assert set(actions) == {"onnxruntime", "numpy"}
        assert max(abs(a - b) for a, b in zip(actions["onnxruntime"], actions["numpy"])) < 1e-4, name
    assert out["loaded"] == []


def test_the_blocker_catches_a_module_that_needs_torch():
    proc = _run(IMPORT_EXPORT)
    assert proc.returncode != 0
    assert "blocked: torch" in proc.stderr or "blocked: onnx" in proc.stderr


def _vermin(*paths: str | Path) -> subprocess.CompletedProcess:
    exe = shutil.which("vermin", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.fail("vermin is not installed; it is part of the [test] extra (bash scripts/setup.sh)")
    return subprocess.run([exe, "--target=3.10-", "--violations", "--no-tips", "--eval-annotations",
                           *map(str, paths)], capture_output=True, text=True, timeout=120)


def test_runtime_source_is_python_3_10_compatible():
    package = REPO / "liquidcontrol"
    # The runtime package and every project module it imports (package init, errors, kinds).
    proc = _vermin(package / "runtime", package / "__init__.py", package / "errors.py", package / "kinds.py")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-1000:]


def test_the_3_10_check_fails_on_newer_syntax(tmp_path):
    newer = tmp_path / "newer.py"
    newer.write_text("import tomllib\n\ntry:\n    pass\nexcept* ValueError:\n    pass\n")
    proc = _vermin(newer)
    assert proc.returncode != 0 and "3.11" in proc.stdout


def test_bench_runtime_runs_on_a_runtime_only_install():
    script = BLOCKER + """
from liquidcontrol.cli import main
sys.argv = ["liquidcontrol", "bench", "runtime", "--quick", "parking_bundle"]
sys.exit(main(sys.argv[1:]))
"""
    proc = subprocess.run([sys.executable, "-c", script.replace("parking_bundle", str(
        REPO / "policies" / "pretrained" / "parking_cfc_ncp12")), json.dumps(BLOCKED)], cwd=REPO,
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = {line[28:46].strip(): line[46:] for line in proc.stdout.splitlines() if line.startswith("parking_cfc_ncp12")}
    assert "skipped" not in rows["onnxruntime fp32"] and "skipped" not in rows["numpy"]
    assert "needs the [train] extra" in rows["onnxruntime fp16"] and "needs the [train] extra" in rows["onnxruntime int8"]
