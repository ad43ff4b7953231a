"""The README's tour runs as written and its command table matches the CLI (documentation that cannot rot)."""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from liquidcontrol.cli import COMMANDS, command_parser

README = Path(__file__).resolve().parents[1] / "README.md"


def test_tour_code_runs_and_parks():
    tour = README.read_text().split("## A short tour", 1)[1]
    code = re.search(r"```python\n(.*?)```", tour, re.S)
    assert code is not None, "the tour lost its python block"
    proc = subprocess.run([sys.executable, "-c", code.group(1)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "True"  # the shipped bundle parks seed 0


# ---- the "Command line" table: every command and flag it shows exists ---------------------

def command_table(text: str) -> list[str]:
    """The rows of the first Markdown table after the "Command line" paragraph (header excluded)."""
    after = text.split("\nCommand line", 1)[1]
    rows: list[str] = []
    for line in after.splitlines():
        if line.startswith("|"):
            rows.append(line)
        elif rows:
            break
    return rows[2:]  # drop the header and the |---| line


def row_invocations(row: str) -> list[list[str]]:
    """The ``liquidcontrol ...`` invocations a table row shows, as argument lists.

    Optional parts in brackets are shown as used. Flags quoted on their own in
    the description (``--budget tiny``) belong to the row's first command and
    are checked as an extra invocation of it.
    """
    spans = re.findall(r"`([^`]+)`", row)
    commands = [shlex.split(s.replace("[", " ").replace("]", " ")) for s in spans if s.startswith("liquidcontrol ")]
    extras = [shlex.split(s) for s in spans if s.startswith("--")]
    invocations = [c[1:] for c in commands]
    if commands:
        invocations += [commands[0][1:] + extra for extra in extras]
    return invocations


def _resolve(argv: list[str]) -> tuple[argparse.ArgumentParser, str, list[str]]:
    """The parser of the (sub-)sub-command ``argv`` names, its name, and problems finding it."""
    _, parser = command_parser(argv[0])
    name, rest = f"liquidcontrol {argv[0]}", argv[1:]
    while True:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            return parser, name, []
        if not rest or rest[0] not in subs[0].choices:
            got = repr(rest[0]) if rest else "nothing"
            return parser, name, [f"`{name}` needs one of {sorted(subs[0].choices)}, the README shows {got}"]
        name, parser, rest = f"{name} {rest[0]}", subs[0].choices[rest[0]], rest[1:]


# An upper-case placeholder ("--task NAME") where the CLI wants a choice or a number.
PLACEHOLDER_ERROR = re.compile(r"argument \S+: (?:invalid (?:choice|\w+ value)|unknown \w+) '?[A-Z][A-Z0-9_]*'")


def check_invocation(argv: list[str]) -> list[str]:
    """Problems with the README showing ``liquidcontrol *argv``: [] when the CLI accepts it as written.

    The command and sub-commands must exist, every ``--flag`` shown must be an
    option of that (sub-)command, and the whole line must parse (required
    arguments present, values of the right type); upper-case placeholders such
    as ``NAME`` may stand for a choice or a number.
    """
    shown = " ".join(["liquidcontrol", *argv])
    if not argv or argv[0] not in COMMANDS:
        return [f"`{shown}`: no such command (choose one of {', '.join(COMMANDS)})"]
    parser, name, problems = _resolve(argv)
    if problems:
        return [f"`{shown}`: {p}" for p in problems]
    for token in argv:
        flag = token.split("=", 1)[0]
        if flag.startswith("--") and flag not in parser._option_string_actions:
            problems.append(f"`{shown}`: `{name}` has no flag {flag}")
    _, full = command_parser(argv[0])
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            full.parse_args(argv[1:])
    except SystemExit as exc:
        error = stderr.getvalue().strip().splitlines()[-1]
        if exc.code not in (0, None) and not PLACEHOLDER_ERROR.search(error):
            problems.append(f"`{shown}` does not parse: {error}")
    return problems


def test_command_table_matches_the_cli():
    rows = command_table(README.read_text())
    invocations = [inv for row in rows for inv in row_invocations(row)]
    assert len(rows) >= 6 and len(invocations) >= len(rows), "the command table lost its rows"
    shown = {inv[0] for inv in invocations}
    assert {"main", "train", "eval", "export", "bench"} <= shown
    problems = [p for inv in invocations for p in check_invocation(inv)]
    assert problems == []


@pytest.mark.parametrize(("row", "needle"), [
    ("| `liquidcontrol train bc --demos d.npz --no-such-flag` | x |", "has no flag --no-such-flag"),
    ("| `liquidcontrol train bc` | ok; `--no-such-flag 3` in the description |", "has no flag --no-such-flag"),
    ("| `liquidcontrol fly-to-the-moon` | x |", "no such command"),
    ("| `liquidcontrol train fly` | x |", "needs one of ['bc', 'dagger', 'ppo']"),
    ("| `liquidcontrol export CHECKPOINT_OR_BUNDLE OUT` | the row this test fixed |", "does not parse"),
    ("| `liquidcontrol main --units many` | x |", "does not parse: liquidcontrol main: error: argument --units"),
])
def test_checker_rejects_what_the_cli_does_not_accept(row, needle):
    problems = [p for inv in row_invocations(row) for p in check_invocation(inv)]
    assert any(needle in p for p in problems), problems


def test_checker_accepts_valid_rows():
    row = ("| `liquidcontrol bench models --quick` / `liquidcontrol bench env parking --steps=10` "
           "| fine; `--repeats 2` too |")
    invocations = row_invocations(row)
    assert invocations == [["bench", "models", "--quick"], ["bench", "env", "parking", "--steps=10"],
                           ["bench", "models", "--quick", "--repeats", "2"]]
    assert [p for inv in invocations[:2] for p in check_invocation(inv)] == []
    assert check_invocation(["bench", "env", "NAME", "--steps", "N"]) == []  # placeholders
    assert check_invocation(["bench", "env", "nowhere"]) != []  # a real value must be valid
