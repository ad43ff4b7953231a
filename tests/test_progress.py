"""Progress bars: a redrawing bar on a terminal, a few plain lines in logs, nothing when disabled."""

from __future__ import annotations

import io

import pytest

from liquidcontrol import progress


def _drive(bar, updates: int, tick=None) -> None:
    for _ in range(updates):
        if tick is not None:
            tick()
        bar.update(1)
    bar.close()


def _lines(text: str) -> list[str]:
    assert "\r" not in text  # no carriage-return redraws in a log
    return [line for line in text.splitlines() if line]


def test_redirected_bar_writes_a_handful_of_lines(capsys):
    bar = progress.make_bar(10_000, "demo", enabled=True)  # capsys: stderr is not a TTY
    _drive(bar, 10_000)
    captured = capsys.readouterr()
    lines = _lines(captured.err)
    assert 1 <= len(lines) <= 5 and captured.out == ""
    assert lines[-1].startswith("demo: 10000/10000")


def test_redirected_bar_prints_at_most_one_line_per_interval(capsys, monkeypatch):
    # A fake clock: each update takes one second, so 10,000 updates span 10,000 s.
    now = {"t": 0.0}

    def tick():
        now["t"] += 1.0

    monkeypatch.setattr(progress.time, "perf_counter", lambda: now["t"])
    with progress.progress_bar(10_000, "slow", enabled=True) as bar:
        bar.set_postfix(success=0.5)
        _drive(bar, 10_000, tick)
    lines = _lines(capsys.readouterr().err)
    periodic = 10_000 // int(progress.LOG_INTERVAL_S)  # 333 lines, one per 30 s
    assert len(lines) == periodic + 1  # plus one closing line (closed twice: by _drive and the context)
    assert lines[0] == "slow: 30/10000 in 30 s (success=0.5)"


def test_a_bar_that_printed_every_update_would_be_caught(capsys, monkeypatch):
    monkeypatch.setattr(progress, "LOG_INTERVAL_S", 0.0)  # the broken variant: a line per update
    _drive(progress.make_bar(10_000, "flood"), 10_000)
    assert len(_lines(capsys.readouterr().err)) > 5


def test_disabled_bar_is_none_and_silent(capsys):
    assert progress.make_bar(10, "off", enabled=False) is None
    with progress.progress_bar(10, "off", enabled=False) as bar:
        assert bar is None
    assert capsys.readouterr() == ("", "")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_gets_tqdm(monkeypatch):
    tqdm = pytest.importorskip("tqdm")
    monkeypatch.setattr(progress.sys, "stderr", _Terminal())
    bar = progress.make_bar(3, "tty", unit="ep")
    try:
        assert isinstance(bar, tqdm.tqdm)
    finally:
        bar.close()
