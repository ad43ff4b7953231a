"""Suite-wide rule: a test of the project's own modules may not be skipped.

An importorskip of ``liquidcontrol.envs`` turns a broken or missing extra
(no MuJoCo, say) into a quiet "s" and CI stays green while testing nothing.
Here such a skip becomes a failure: any skip whose reason names the project's
package (``liquidcontrol`` or ``liquidcontrol.*``), as importorskip's
"could not import 'liquidcontrol.envs': ..." does. Skips for other reasons
("ROS 2 not installed", a missing third-party module) stay skips.
"""

from __future__ import annotations

import re

import pytest

OWN_MODULE = re.compile(r"\bliquidcontrol(?:\.[A-Za-z_]\w*)*\b")


def _skip_reason(longrepr: object) -> str | None:
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # (path, lineno, "Skipped: reason")
        return str(longrepr[2]).removeprefix("Skipped: ")
    return None


def _forbidden(reason: str | None) -> bool:
    return reason is not None and OWN_MODULE.search(reason) is not None


def _message(reason: str) -> str:
    return (f"skipped for a reason that names the project's own modules ({reason}); "
            "tests of liquidcontrol must run: install its extras (pip install -e '.[dev]')")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = _skip_reason(report.longrepr)
        if reason is not None and _forbidden(reason):
            report.outcome = "failed"
            report.longrepr = _message(reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    report = outcome.get_result()
    if report.outcome == "skipped":  # a module-level importorskip / skip(allow_module_level=True)
        reason = _skip_reason(report.longrepr)
        if reason is not None and _forbidden(reason):
            report.outcome = "failed"
            report.longrepr = _message(reason)
