"""``synthgen keys rotate``: rewrap every data key under a new master key (admin; local)."""

from __future__ import annotations

import argparse
import os

from app.cli.common import as_admin, user_flag
from synthgen.cli import command_group


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    new_key = os.environ.get("SYNTHGEN_NEW_MASTER_KEY") or None
    print(as_admin(args, lambda platform, actor: platform.rotate_keys(actor, new_key)))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    ksub = command_group(subparsers, "keys", "master key administration (admin; local)")
    p = ksub.add_parser("rotate", help="rewrap every data key under a new master key "
                                       "(with SYNTHGEN_MASTER_KEY: pass the new key in SYNTHGEN_NEW_MASTER_KEY)")
    user_flag(p)
    p.set_defaults(handler=cmd_keys_rotate)
