"""Assemble the ``synthgen`` parser from every package's ``register(subparsers)`` and run it."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from typing import Callable, Sequence

import evaluation.cli
import synthgen.cli
from app.cli import commands

Register = Callable[[argparse._SubParsersAction], object]


def registers() -> list[Register]:
    """The library's and the evaluation's commands, then each module of ``app.cli.commands``
    (in name order) that defines ``register``."""
    found: list[Register] = [synthgen.cli.register, evaluation.cli.register]
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        if callable(getattr(module, "register", None)):
            found.append(module.register)
    return found


def build_parser() -> argparse.ArgumentParser:
    parser, sub = synthgen.cli.new_parser(
        "Differentially-private synthetic data: draft schemas, fit, sample, evaluate, and the release platform.")
    for register in registers():
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return synthgen.cli.run(build_parser(), argv)
