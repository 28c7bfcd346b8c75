"""``synthgen audit verify``: the audit log's hash chain, signatures, head and witness (local).
Exit code 1 when the log fails verification.

It signs nobody in and writes nothing: a sign-in would append an audit entry signed with
whatever key this process loaded, before anything had checked that key. Keys are never created
here (a wrong key directory must fail, not produce a fresh key)."""

from __future__ import annotations

import argparse
import sys

from app.cli.common import EXIT_ERROR
from synthgen.cli import command_group


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from app.core.config import Settings
    from app.core.services import Platform

    platform = Platform.open(Settings.from_env().with_(create_keys=False), migrate=False)
    try:
        result = platform.verify_audit_chain()
    finally:
        platform.close()
    if result.ok:
        print(f"audit log ok: {result.checked} entries, hash chain, signatures and head verified")
        return 0
    for problem in result.problems[:20]:
        print(f"problem: {problem}", file=sys.stderr)
    print(f"error: audit log verification FAILED ({len(result.problems)} problems in {result.checked} entries)",
          file=sys.stderr)
    return EXIT_ERROR


def register(subparsers: argparse._SubParsersAction) -> None:
    asub = command_group(subparsers, "audit", "audit log checks (local)")
    p = asub.add_parser("verify", help="verify the audit log's hash chain, signatures and head (no sign-in, "
                                       "writes nothing)")
    p.set_defaults(handler=cmd_audit_verify)
