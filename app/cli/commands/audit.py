"""``synthgen audit verify``: the audit log's hash chain, signatures, head and witness
(admin; local). Exit code 1 when the log fails verification."""

from __future__ import annotations

import argparse
import sys

from app.cli.common import EXIT_ERROR, as_admin, user_flag
from synthgen.cli import command_group


def cmd_audit_verify(args: argparse.Namespace) -> int:
    result = as_admin(args, lambda platform, actor: platform.verify_audit(actor))
    if result.ok:
        print(f"audit log ok: {result.checked} entries, hash chain, signatures and head verified")
        return 0
    for problem in result.problems[:20]:
        print(f"problem: {problem}", file=sys.stderr)
    print(f"error: audit log verification FAILED ({len(result.problems)} problems in {result.checked} entries)",
          file=sys.stderr)
    return EXIT_ERROR


def register(subparsers: argparse._SubParsersAction) -> None:
    asub = command_group(subparsers, "audit", "audit log checks (admin; local)")
    p = asub.add_parser("verify", help="verify the audit log's hash chain, signatures and head")
    user_flag(p)
    p.set_defaults(handler=cmd_audit_verify)
