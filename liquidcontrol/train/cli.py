"""``liquidcontrol train dagger|bc [flags]``: every flag is a config field."""

from __future__ import annotations

import argparse
import json

from liquidcontrol.config import add_dataclass_arguments, dataclass_from_args
from liquidcontrol.train.bc import BCConfig
from liquidcontrol.train.dagger import DaggerConfig

ALGOS = {"dagger": DaggerConfig, "bc": BCConfig}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="algo", required=True, metavar="ALGO")
    for name, cls in ALGOS.items():
        add_dataclass_arguments(sub.add_parser(name, help=(cls.__doc__ or "").splitlines()[0]), cls)


def run(args: argparse.Namespace) -> int:
    if args.algo == "bc":
        from liquidcontrol.train.bc import train as train_bc

        summary = train_bc(dataclass_from_args(BCConfig, args))
    else:
        from liquidcontrol.train.dagger import train as train_dagger

        summary = train_dagger(dataclass_from_args(DaggerConfig, args))
    print(json.dumps(summary, indent=2))
    return 0
