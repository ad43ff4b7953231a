"""The wheel works outside the source tree, and the runtime needs only numpy + onnxruntime.

1. Build the wheel from a copy of the sources (no network, no build
   isolation), install it with ``--no-deps`` into a fresh venv that sees the
   dev venv's third-party packages through a ``.pth`` line (so torch, mujoco
   and gymnasium need no reinstall), and from another folder import
   ``liquidcontrol.policies`` / ``liquidcontrol.envs`` and read the package
   data in ``liquidcontrol.sim_assets``.
2. A bare venv (no system or dev site-packages) gets numpy and onnxruntime
   from the machine's local package index, plus the wheel with ``--no-deps``;
   an exported bundle must run there on both backends, matching torch, while
   ``import torch`` / ``import mujoco`` / ``import onnx`` fail.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SOURCES = ["pyproject.toml", "README.md", "liquidcontrol", "envs", "policies", "sim_assets"]
# The machines carry a local package index; elsewhere pip's configured index is used.
LOCAL_INDEX = (["--index-url", "file:///opt/pypi/simple", "--extra-index-url", "file:///opt/pypi-more/simple"]
               if Path("/opt/pypi/simple/onnxruntime").is_dir() else [])


def _run(cmd: list[str], cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc


def _pip(python: Path, *args: str) -> None:
    """The dev venv's pip acting on another interpreter (no pip inside the new venvs)."""
    _run([sys.executable, "-m", "pip", "--python", str(python), "--disable-pip-version-check",
          "-q", *args], timeout=240)


def _make_venv(path: Path) -> Path:
    venv.EnvBuilder(with_pip=False, clear=True).create(path)
    return path / "bin" / "python"


def _site_packages(python: Path) -> Path:
    out = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    return Path(out.stdout.strip())


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src, dist = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("dist")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=ignore)
        elif path.exists():
            shutil.copy2(path, src / name)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
          "-q", "-w", str(dist), str(src)], timeout=180)
    (whl,) = dist.glob("liquidcontrol-*.whl")
    return whl


def test_wheel_installs_and_imports_outside_the_tree(wheel: Path, tmp_path: Path) -> None:
    python = _make_venv(tmp_path / "venv")
    _pip(python, "install", "--no-deps", "--no-index", str(wheel))
    # Third-party packages from the dev venv, *after* the new venv's own (which holds the wheel).
    dev_site = Path(sysconfig.get_paths()["purelib"])
    (_site_packages(python) / "dev_site.pth").write_text(f"{dev_site}\n")
    script = """
import importlib.resources as res, json, liquidcontrol, liquidcontrol.policies
from liquidcontrol.policies.registry import make_policy
found = {"file": liquidcontrol.__file__, "params": make_policy("cfc-ncp", 4, 2).num_parameters()}
assets = res.files("liquidcontrol.sim_assets")
found["xml"] = sorted(str(p.relative_to(assets)) for p in __import__("pathlib").Path(str(assets)).rglob("*.xml"))
found["readable"] = all((assets / x).read_text().lstrip().startswith("<") for x in found["xml"])
try:
    import liquidcontrol.envs, gymnasium
    found["envs"] = sorted(k for k in gymnasium.registry if k.startswith("liquidcontrol/"))
except ImportError as exc:
    found["envs"] = repr(exc)
print(json.dumps(found))
"""
    found = json.loads(_run([str(python), "-c", script], cwd=tmp_path).stdout.splitlines()[-1])
    assert found["file"].startswith(str(tmp_path / "venv")), "imported the source tree, not the wheel"
    assert found["params"] > 0
    shipped = sorted(str(p.relative_to(REPO / "sim_assets")) for p in (REPO / "sim_assets").rglob("*.xml"))
    assert found["xml"] == shipped and found["readable"]
    if (REPO / "envs" / "parking.py").exists():
        assert "liquidcontrol/Parking-v0" in found["envs"]


RUNTIME_SCRIPT = """
import importlib, json, sys
import numpy as np
from liquidcontrol.runtime import PolicyRunner
obs = np.load(sys.argv[2])
out = {}
for backend in ("onnxruntime", "numpy"):
    runner = PolicyRunner(sys.argv[1], backend=backend)
    out[backend] = [runner.step(o).tolist() for o in obs]
for name in ("torch", "mujoco", "onnx", "gymnasium"):
    try:
        importlib.import_module(name)
        out[name] = "importable"
    except ImportError:
        out[name] = "missing"
import liquidcontrol
out["file"] = liquidcontrol.__file__
print(json.dumps(out))
"""


SHIPPED_SCRIPT = """
import json, sys
import numpy as np
from liquidcontrol.runtime import PolicyRunner, available_pretrained, load_card, pretrained
steps = {}
for name in available_pretrained():
    card = load_card(pretrained(name))
    if card.is_dict:  # camera bundles run on onnxruntime only (the numpy backend takes vectors)
        obs = {i["key"]: np.full(i["shape"], 100 if i["dtype"] == "uint8" else 0.1, i["dtype"]) for i in card.inputs}
        backends = ("onnxruntime",)
    else:
        obs, backends = np.full(card.obs_dim, 0.1, np.float32), ("onnxruntime", "numpy")
    steps[name] = [PolicyRunner(pretrained(name), backend=b).step(obs, card.control_period_s).tolist()
                   for b in backends]
foreign = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "mujoco", "gymnasium", "onnx", "cv2"))
print(json.dumps({"steps": steps, "foreign": foreign}))
"""


def test_runtime_only_venv_runs_a_bundle(wheel: Path, tmp_path: Path) -> None:
    from liquidcontrol.policies.registry import make_policy

    from liquidcontrol.export import save_bundle

    torch.manual_seed(0)
    policy = make_policy("cfc-ncp", 5, 2, units=8).eval()
    save_bundle(tmp_path / "bundle", policy, {"env_id": "test/Fake-v0"}, exporter="torchscript")
    obs = np.random.default_rng(0).standard_normal((20, 5)).astype(np.float32)
    np.save(tmp_path / "obs.npy", obs)
    expected, state = [], policy.initial_state(1)
    with torch.no_grad():
        for o in obs:
            action, state = policy(torch.from_numpy(o[None]), state, torch.full((1, 1), policy.control_period))
            expected.append(action[0].numpy())

    python = _make_venv(tmp_path / "rt")
    _pip(python, "install", *LOCAL_INDEX, "numpy", "onnxruntime")
    _pip(python, "install", "--no-deps", "--no-index", str(wheel))
    run = _run([str(python), "-c", RUNTIME_SCRIPT, str(tmp_path / "bundle"), str(tmp_path / "obs.npy")],
               cwd=tmp_path)
    out = json.loads(run.stdout.splitlines()[-1])
    assert out["file"].startswith(str(tmp_path / "rt"))
    assert {out[m] for m in ("torch", "mujoco", "onnx", "gymnasium")} == {"missing"}
    for backend in ("onnxruntime", "numpy"):
        assert np.abs(np.array(out[backend]) - np.array(expected)).max() <= 1e-5, backend
    # The bundles shipped inside the wheel step there too, and nothing beyond numpy/onnxruntime was imported.
    shipped = json.loads(_run([str(python), "-c", SHIPPED_SCRIPT], cwd=tmp_path).stdout.splitlines()[-1])
    assert sorted(shipped["steps"]) == sorted(p.name for p in (REPO / "policies" / "pretrained").glob("*/card.json")
                                              for p in [p.parent])
    from liquidcontrol.runtime import load_card

    camera = {n for n in shipped["steps"] if load_card(REPO / "policies" / "pretrained" / n).is_dict}
    assert camera == {"driving_cfc_ncp19"}
    assert all(len(a) == (1 if n in camera else 2) for n, a in shipped["steps"].items()) and shipped["foreign"] == []
