"""The command line: help, unknown commands, typed flags, one-line errors."""

from __future__ import annotations

import argparse
import subprocess
import sys
from dataclasses import dataclass

import pytest

from liquidcontrol.cli import COMMANDS, command_parser, main
from liquidcontrol.config import add_dataclass_arguments, dataclass_from_args, option


@dataclass
class _Cfg:
    lr: float = option(0.1, "learning rate")
    name: str = option("a", "a name")
    flag: bool = option(False, "a switch")
    sizes: list[int] = option([1, 2], "sizes")


def test_dataclass_flags_round_trip():
    parser = argparse.ArgumentParser()
    add_dataclass_arguments(parser, _Cfg)
    cfg = dataclass_from_args(_Cfg, parser.parse_args(["--lr", "0.5", "--flag", "true", "--sizes", "3", "4"]))
    assert cfg == _Cfg(lr=0.5, name="a", flag=True, sizes=[3, 4])
    assert "learning rate (default: 0.1)" in parser.format_help()


def test_unknown_command_exits_2(capsys):
    assert main(["fly-to-the-moon"]) == 2
    assert "unknown command 'fly-to-the-moon'" in capsys.readouterr().err


def test_help_lists_commands(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in ("main", "train", "eval", "export", "bench"):
        assert name in out


def test_user_error_is_one_line_without_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "liquidcontrol", "train", "bc", "--demos", str(tmp_path / "nope.npz")],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: demonstration file")


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_builds_its_parser(name):
    module, parser = command_parser(name)
    assert callable(module.run)
    assert parser.prog == f"liquidcontrol {name}"
    assert parser.format_help()
