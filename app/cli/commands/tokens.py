"""``synthgen token create|list|revoke``: API tokens through the HTTP API, with the account's
password (an API token may not mint tokens)."""

from __future__ import annotations

import argparse
import sys

from app.cli.common import (
    EXIT_BAD_INPUT,
    basic_auth,
    check,
    api_client,
    die,
    positive_int,
    remote_flags,
    request,
    user_flag,
)
from synthgen.cli import command_group


def cmd_token_create(args: argparse.Namespace) -> int:
    if not 0 < args.ttl_days <= 365:
        die(EXIT_BAD_INPUT, f"--ttl-days ({args.ttl_days:g}) must be more than 0 and at most 365")
    with api_client(args, auth=basic_auth(args)) as client:
        info = check(request(client, "POST", "/tokens", json={"ttl_days": args.ttl_days}))
    print(f"token {info['id']} ({info['prefix']}...) for {info['user']}, expires {info['expires_at']}; "
          "it is shown only once:", file=sys.stderr)
    print(info["token"])
    return 0


def cmd_token_list(args: argparse.Namespace) -> int:
    with api_client(args, auth=basic_auth(args)) as client:
        tokens = check(request(client, "GET", "/tokens"))["tokens"]
    for t in tokens:
        print(f"{t['id']:>5}  {t['prefix']}...  {t['user']:<20} expires {t['expires_at'][:19]}"
              f"{'  REVOKED' if t['revoked'] else ''}")
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    with api_client(args, auth=basic_auth(args)) as client:
        check(request(client, "DELETE", f"/tokens/{args.id}"))
    print(f"revoked token {args.id}", file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    tsub = command_group(subparsers, "token", "create, list or revoke your API tokens (HTTP API)")
    p = tsub.add_parser("create", help="create an API token (printed once on stdout)")
    p.add_argument("--ttl-days", type=float, default=30.0, help="lifetime in days (default 30, at most 365)")
    user_flag(p)
    remote_flags(p, token=False)
    p.set_defaults(handler=cmd_token_create)
    p = tsub.add_parser("list", help="your API tokens (admins: everyone's)")
    user_flag(p)
    remote_flags(p, token=False)
    p.set_defaults(handler=cmd_token_list)
    p = tsub.add_parser("revoke", help="revoke an API token by id")
    p.add_argument("id", type=positive_int("token id"))
    user_flag(p)
    remote_flags(p, token=False)
    p.set_defaults(handler=cmd_token_revoke)
