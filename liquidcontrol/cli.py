"""Command line: ``liquidcontrol <command> ...``.

Each command lives in its own module exposing ``add_arguments(parser)`` and
``run(args) -> int``; modules are imported only when their command runs, so
``liquidcontrol --help`` is instant and the runtime needs no torch.
Errors a user can fix (:class:`LiquidControlError`) print one line and exit 2,
and so does a missing optional extra (e.g. ``[sim]`` for MuJoCo): the line
names the extra and the ``pip install`` that fixes it. A missing module that
belongs to no extra is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from types import ModuleType

from liquidcontrol.errors import LiquidControlError

COMMANDS: dict[str, tuple[str, str]] = {
    "main": ("liquidcontrol.main_job", "train, evaluate, export and report on a task (--task, default parking)"),
    "compare": ("liquidcontrol.compare", "model kinds side by side over several training seeds, aggregated to JSON/CSV/Markdown"),
    "demos": ("liquidcontrol.train.demos", "record expert demonstrations to a .npz file"),
    "record": ("liquidcontrol.bags.record", "record expert demonstrations as a ROS 2 bag (mcap)"),
    "roundtrip": ("liquidcontrol.bags.roundtrip", "train from a recorded bag and from native demos with the same seeds; compare"),
    "train": ("liquidcontrol.train.cli", "behaviour cloning + DAgger, or PPO, for any model kind"),
    "eval": ("liquidcontrol.evaluate.cli", "evaluate a bundle or the expert, clean and perturbed"),
    "export": ("liquidcontrol.export.cli", "export a checkpoint to an ONNX policy bundle"),
    "bench": ("liquidcontrol.bench.cli", "benchmarks: 'bench models', 'bench env TASK', 'bench runtime'"),
}

# Top-level import name -> the optional extra of pyproject.toml that provides it.
EXTRAS: dict[str, str] = {
    "mujoco": "sim",
    "gymnasium": "sim",
    "cv2": "sim",
    "imageio": "sim",
    "imageio_ffmpeg": "sim",
    "matplotlib": "sim",
    "tqdm": "sim",
    "torch": "train",
    "onnx": "train",
    "onnxscript": "train",
    "safetensors": "train",
    "tensorboard": "train",
    "ncps": "bench",
    "highway_env": "bench",
    "stable_baselines3": "rl",
    "sb3_contrib": "rl",
    "rosbags": "bags",
}


def missing_extra_message(exc: BaseException) -> str | None:
    """The one-line error for a module of an optional extra that is not installed, else None."""
    if not isinstance(exc, ModuleNotFoundError) or not exc.name:
        return None
    module = exc.name.partition(".")[0]
    extra = EXTRAS.get(module)
    if extra is None:
        return None
    return (f"error: this command needs the [{extra}] extra (missing module {module!r}); "
            f"install it with: pip install 'liquidcontrol[{extra}]'")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="liquidcontrol", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_module, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def command_parser(name: str) -> tuple[ModuleType, argparse.ArgumentParser]:
    """Import command ``name`` and build its full parser (sub-commands included)."""
    module = importlib.import_module(COMMANDS[name][0])
    parser = argparse.ArgumentParser(prog=f"liquidcontrol {name}", description=COMMANDS[name][1])
    module.add_arguments(parser)
    return module, parser


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
    try:
        module, parser = command_parser(name)
        if hasattr(module, "normalise_argv"):
            rest = module.normalise_argv(rest)
        args = parser.parse_args(rest)
        return int(module.run(args) or 0)
    except LiquidControlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        message = missing_extra_message(exc)
        if message is None:
            raise  # not an optional extra: a real bug, keep the traceback
        print(message, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
