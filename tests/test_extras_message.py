"""Missing optional extras are loud, never silent.

* The CLI: a command whose extra is not installed prints one line naming the
  extra and the ``pip install`` that fixes it, and exits 2 (no traceback);
  a missing module that belongs to no extra is a bug and keeps its traceback.
* The test suite: ``tests/conftest.py`` turns a skip caused by failing to
  import ``liquidcontrol.*`` into a failure (checked in an inner pytest run).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from liquidcontrol.cli import EXTRAS, missing_extra_message

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]

# Runs liquidcontrol.cli.main(argv[2:]) with the comma-separated modules of
# argv[1] made unimportable (top-level names block their submodules too).
_BLOCKED_RUN = textwrap.dedent("""
    import sys
    from importlib.abc import MetaPathFinder

    BLOCKED = set(sys.argv[1].split(","))
    already = BLOCKED & set(sys.modules)
    if already:
        sys.exit(f"already imported before blocking: {sorted(already)}")

    class Block(MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name in BLOCKED or name.partition(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Block())
    from liquidcontrol.cli import main
    sys.exit(main(sys.argv[2:]))
""")


def _run_without(blocked: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _BLOCKED_RUN, blocked, *argv],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)


@pytest.mark.parametrize(("blocked", "argv", "extra"), [
    ("mujoco", ["bench", "env", "parking", "--quick"], "sim"),
    ("torch", ["train", "bc", "--demos", "demos.npz"], "train"),
])
def test_missing_extra_is_one_line_naming_it(blocked, argv, extra):
    proc = _run_without(blocked, *argv)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines == [f"error: this command needs the [{extra}] extra (missing module {blocked!r}); "
                     f"install it with: pip install 'liquidcontrol[{extra}]'"]


def test_missing_module_of_no_extra_keeps_its_traceback():
    proc = _run_without("liquidcontrol.bench.env", "bench", "env", "parking", "--quick")
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr
    assert "ModuleNotFoundError: No module named 'liquidcontrol.bench.env'" in proc.stderr


def test_message_maps_submodules_and_ignores_other_errors():
    assert "[sim]" in (missing_extra_message(ModuleNotFoundError("x", name="cv2.aruco")) or "")
    assert "[rl]" in (missing_extra_message(ModuleNotFoundError("x", name="sb3_contrib")) or "")
    assert missing_extra_message(ModuleNotFoundError("x", name="liquidcontrol.nope")) is None
    assert missing_extra_message(ModuleNotFoundError("x")) is None  # no name: cannot tell
    assert missing_extra_message(ImportError("cannot import name 'x'", name="torch")) is None
    assert missing_extra_message(ValueError("torch")) is None


def test_every_extra_named_exists_in_pyproject():
    tomllib = pytest.importorskip("tomllib")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert set(EXTRAS.values()) <= set(extras)


# ---- tests/conftest.py: skips of the project's own modules fail ----------------------------

# The inner session's own-module name and skip marker are built, not spelled out, so greps for
# real skips in this repository do not mistake these fixtures for skipped tests.
_INNER_TESTS = """
import pytest

OWN_MISSING = "liquidcontrol" + ".does_not_exist"
skip_naming_own_module = pytest.mark.skip(reason="liquidcontrol.envs needs mujoco")

def test_passes():
    pass

def test_skipped_for_ros():
    pytest.skip("ROS 2 not installed")

def test_skipped_for_a_third_party_module():
    pytest.importorskip("a_third_party_module_that_does_not_exist")

def test_importorskip_of_own_module():
    pytest.importorskip(OWN_MISSING)

@skip_naming_own_module
def test_marked_skip_naming_own_module():
    pass

@pytest.mark.xfail(reason="liquidcontrol: a known bug", strict=True)
def test_xfail_is_untouched():
    assert False
"""


def _inner_session(pytester: pytest.Pytester, **files: str) -> pytest.RunResult:
    pytester.makeconftest((Path(__file__).with_name("conftest.py")).read_text())
    pytester.makepyfile(**files)
    return pytester.runpytest_subprocess("-rA", "-p", "no:cacheprovider")


def test_skip_of_own_module_fails_other_skips_stay(pytester: pytest.Pytester):
    result = _inner_session(pytester, test_inner=_INNER_TESTS)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    # a skip marker acts at setup, so it shows as an error rather than a failure
    result.assert_outcomes(passed=1, skipped=2, failed=1, errors=1, xfailed=1)
    for line in ("SKIPPED * ROS 2 not installed", "ERROR test_inner.py::test_marked_skip_naming_own_module *",
                 "FAILED test_inner.py::test_importorskip_of_own_module *"):
        result.stdout.fnmatch_lines([line])


def test_module_level_importorskip_of_own_module_fails(pytester: pytest.Pytester):
    result = _inner_session(pytester, test_module_skip="""
        import pytest

        OWN_MISSING = "liquidcontrol" + ".does_not_exist"
        pytest.importorskip(OWN_MISSING)

        def test_never_runs():
            pass
    """)
    assert result.ret != pytest.ExitCode.OK
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*could not import 'liquidcontrol.does_not_exist'*"])


def test_module_level_skip_for_other_reasons_stays_a_skip(pytester: pytest.Pytester):
    result = _inner_session(pytester, test_module_skip="""
        import pytest

        pytest.skip("ROS 2 not installed", allow_module_level=True)
    """)
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    result.assert_outcomes(skipped=1)
