"""Command line: ``liquidcontrol <command> ...``.

Each command lives in its own module exposing ``add_arguments(parser)`` and
``run(args) -> int``; modules are imported only when their command runs, so
``liquidcontrol --help`` is instant and the runtime needs no torch.
Errors a user can fix (:class:`LiquidControlError`) print one line and exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from liquidcontrol.errors import LiquidControlError

COMMANDS: dict[str, tuple[str, str]] = {
    "main": ("liquidcontrol.main_job", "train, evaluate, export and report on the default task (parking)"),
    "demos": ("liquidcontrol.train.demos", "record expert demonstrations to a .npz file"),
    "train": ("liquidcontrol.train.cli", "behaviour cloning + DAgger for any model kind"),
    "eval": ("liquidcontrol.evaluate.cli", "evaluate a bundle or the expert, clean and perturbed"),
    "export": ("liquidcontrol.export.cli", "export a checkpoint to an ONNX policy bundle"),
    "bench": ("liquidcontrol.bench.cli", "benchmarks: 'bench models', 'bench env parking'"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="liquidcontrol", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_module, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        parser = build_parser()
        if argv and argv[0] not in ("-h", "--help"):
            parser.print_usage(sys.stderr)
            print(f"error: unknown command {argv[0]!r}; choose one of {', '.join(COMMANDS)}.", file=sys.stderr)
            return 2
        parser.print_help()
        return 0
    name, rest = argv[0], argv[1:]
    module = importlib.import_module(COMMANDS[name][0])
    parser = argparse.ArgumentParser(prog=f"liquidcontrol {name}", description=COMMANDS[name][1])
    module.add_arguments(parser)
    args = parser.parse_args(rest)
    try:
        return int(module.run(args) or 0)
    except LiquidControlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
