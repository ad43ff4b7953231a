"""Typed configuration: one ``@dataclass`` per command, turned into ``--flags``.

Each field carries its help text in ``metadata={"help": ...}`` (use
:func:`option`). :func:`add_dataclass_arguments` builds argparse options from
the fields and :func:`dataclass_from_args` builds the config back, so the
same dataclass serves Python callers (``train(BCConfig(epochs=3))``) and the
command line (``--epochs 3``).
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from typing import Any, TypeVar

T = TypeVar("T")


def option(default: Any, help: str, **kwargs: Any) -> Any:  # noqa: A002 - argparse wording
    """A dataclass field with a default and a help sentence for ``--help``."""
    if isinstance(default, (list, dict, set)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata={"help": help, **kwargs})
    return dataclasses.field(default=default, metadata={"help": help, **kwargs})


def _base_type(tp: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _base_type(args[0])
    return tp


def _str2bool(text: str) -> bool:
    low = text.lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def add_dataclass_arguments(parser: argparse.ArgumentParser, cls: type) -> None:
    """Add one ``--field-name`` option per dataclass field of ``cls``."""
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        if not field.init or field.metadata.get("cli") is False:
            continue
        flag = "--" + field.name.replace("_", "-")
        tp = _base_type(hints[field.name])
        if field.default is not dataclasses.MISSING:
            default = field.default
        else:
            assert callable(field.default_factory), f"config field {field.name!r} has no default"
            default = field.default_factory()
        help_text = field.metadata.get("help", "")
        help_text = f"{help_text} (default: {default})" if help_text else f"(default: {default})"
        origin = typing.get_origin(tp)
        if tp is bool:
            parser.add_argument(flag, type=_str2bool, default=default, metavar="BOOL", help=help_text)
        elif origin in (list, tuple):
            (item,) = typing.get_args(tp)[:1]
            parser.add_argument(flag, type=item, nargs="*", default=default, help=help_text)
        else:
            choices = field.metadata.get("choices")
            parser.add_argument(flag, type=tp, default=default, choices=choices, help=help_text)


def dataclass_from_args(cls: type[T], args: argparse.Namespace) -> T:
    """Build ``cls`` from parsed arguments produced by :func:`add_dataclass_arguments`."""
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if f.init and hasattr(args, f.name)}  # type: ignore[arg-type]
    return cls(**values)
