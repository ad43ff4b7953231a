"""``liquidcontrol train dagger|bc|ppo [flags]`` (or ``train --method NAME``): every flag is a config field."""

from __future__ import annotations

import argparse
import importlib
import json
from typing import Any

from liquidcontrol.config import add_dataclass_arguments, dataclass_from_args
from liquidcontrol.errors import LiquidControlError

#: method -> (module, config class, help). PPO's module imports stable-baselines3 (the rl extra) only when used.
METHODS = {
    "dagger": ("liquidcontrol.train.dagger", "DaggerConfig"),
    "bc": ("liquidcontrol.train.bc", "BCConfig"),
    "ppo": ("liquidcontrol.rl.train", "PPOConfig"),
}


RL_MODULES = ("stable_baselines3", "sb3_contrib")


def _config_class(method: str) -> Any:
    module, name = METHODS[method]
    return getattr(importlib.import_module(module), name)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="algo", metavar="METHOD")
    for name in METHODS:
        try:
            cls = _config_class(name)
        except ModuleNotFoundError as exc:
            if (exc.name or "").partition(".")[0] not in RL_MODULES:
                raise  # another extra is missing: cli.main names it
            # the rl extra is missing: the method is listed, its flags are not
            sub.add_parser(name, help=f"{name} (needs the rl extra: pip install 'liquidcontrol[rl]')")
            continue
        add_dataclass_arguments(sub.add_parser(name, help=(cls.__doc__ or "").splitlines()[0]), cls)


def normalise_argv(argv: list[str]) -> list[str]:
    """``train --method ppo ...`` is ``train ppo ...``; an unknown method gets one clear error."""
    if argv and argv[0].startswith("--method"):
        if "=" in argv[0]:
            method, rest = argv[0].split("=", 1)[1], argv[1:]
        elif len(argv) > 1:
            method, rest = argv[1], argv[2:]
        else:
            raise LiquidControlError(f"--method needs a value: one of {', '.join(METHODS)}.")
        argv = [method, *rest]
    if argv and not argv[0].startswith("-") and argv[0] not in METHODS:
        raise LiquidControlError(f"unknown training method {argv[0]!r}; choose one of {', '.join(METHODS)}.")
    return argv


def run(args: argparse.Namespace) -> int:
    if args.algo is None:
        raise LiquidControlError(f"name a training method: liquidcontrol train {{{','.join(METHODS)}}} [flags] "
                                 "(or --method NAME).")
    cls = _config_class(args.algo)
    config = dataclass_from_args(cls, args)
    if args.algo == "bc":
        from liquidcontrol.train.bc import train as train_bc

        summary = train_bc(config)
    elif args.algo == "ppo":
        from liquidcontrol.rl.train import train as train_ppo

        summary = train_ppo(config)
    else:
        from liquidcontrol.train.dagger import train as train_dagger

        summary = train_dagger(config)
    print(json.dumps(summary, indent=2))
    return 0
