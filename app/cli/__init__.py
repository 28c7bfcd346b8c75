"""The ``synthgen`` console script: the library's commands (:mod:`synthgen.cli`), the
evaluation's (:mod:`evaluation.cli`) and the platform's (the modules of :mod:`app.cli.commands`).

Adding a command group: write a module in ``app/cli/commands/`` with a function
``register(subparsers)`` that adds its parsers (``p.set_defaults(handler=...)``; a handler takes
the parsed arguments and returns the exit code). It is found by its place; nothing else needs
editing. To add a command to an existing group (``synthgen schema review``), get that group
with :func:`synthgen.cli.command_group`.

Errors are one line on stderr; the exit code of each kind of error comes from
:data:`synthgen.errors.ERROR_KINDS` (2 bad input, not found, conflict or an exhausted budget;
3 not authenticated or not allowed; 1 internal or a failed check).
"""

from app.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
