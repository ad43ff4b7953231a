"""``liquidcontrol bench models``, ``bench env TASK``, ``bench runtime``, ``bench perturb`` and ``bench rl``.

Benchmarks print ratios against a reference measured in the same run on the
same machine; they never assert timings (machines are shared and noisy).
"""

from __future__ import annotations

import argparse
import importlib

TARGETS = {
    "models": "liquidcontrol.bench.models",
    "env": "liquidcontrol.bench.env",
    "runtime": "liquidcontrol.bench.runtime",
    "perturb": "liquidcontrol.bench.perturb",
    "rl": "liquidcontrol.bench.rl",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="target", required=True, metavar="TARGET")
    for name, module_name in TARGETS.items():
        module = importlib.import_module(module_name)
        assert module.__doc__ is not None, f"{module_name} needs a docstring (the help line)"
        module.add_arguments(sub.add_parser(name, help=module.__doc__.splitlines()[0]))


def run(args: argparse.Namespace) -> int:
    return int(importlib.import_module(TARGETS[args.target]).run(args) or 0)
