"""``synthgen admin init``: the first administrator of an empty installation (e.g. a new
PostgreSQL database). Password from ``SYNTHGEN_NEW_PASSWORD``, a prompt on a terminal (twice),
or generated and shown once. Refused when any account exists."""

from __future__ import annotations

import argparse
import os
import sys

from app.cli.common import EXIT_BAD_INPUT, die
from synthgen.cli import command_group


def _new_admin_password(name: str) -> str | None:
    password = os.environ.get("SYNTHGEN_NEW_PASSWORD")
    if password or not sys.stdin.isatty():
        return password or None
    import getpass

    first = getpass.getpass(f"new password for {name} (empty: generate one): ")
    if first and getpass.getpass("again: ") != first:
        die(EXIT_BAD_INPUT, "the two passwords differ")
    return first or None


def cmd_admin_init(args: argparse.Namespace) -> int:
    from app.core.config import Settings
    from app.core.services import Platform

    platform = Platform.open(Settings.from_env())
    try:
        if platform.has_users():
            die(EXIT_BAD_INPUT, "the platform already has accounts: the first administrator exists "
                                "(add more with 'synthgen user add NAME --role admin')")
        info = platform.create_first_admin(args.name, _new_admin_password(args.name))
    finally:
        platform.close()
    print(f"created administrator {info.username}, id {info.id}", file=sys.stderr)
    if info.generated_password:
        print(f"generated password (shown once): {info.generated_password}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    sub = command_group(subparsers, "admin", "installation set-up (local database)")
    p = sub.add_parser("init", help="create the first administrator of an empty installation (password: "
                                    "SYNTHGEN_NEW_PASSWORD, a prompt, or generated and shown once)")
    p.add_argument("--username", dest="name", default="admin", help="the administrator's user name (default admin)")
    p.set_defaults(handler=cmd_admin_init)
