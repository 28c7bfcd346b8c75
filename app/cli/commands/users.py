"""``synthgen user add|disable|role|link-oidc|unlink-oidc``: accounts (admin; local database)."""

from __future__ import annotations

import argparse
import os
import sys

from app.cli.common import as_admin, user_flag, user_id
from synthgen.cli import command_group


def cmd_user_add(args: argparse.Namespace) -> int:
    new_password = os.environ.get("SYNTHGEN_NEW_PASSWORD") or None
    info = as_admin(args, lambda platform, actor: platform.create_user(actor, args.name, new_password, args.role))
    print(f"created user {info.username} ({info.role}), id {info.id}", file=sys.stderr)
    if info.generated_password:
        print(f"generated password (shown once): {info.generated_password}")
    return 0


def cmd_user_disable(args: argparse.Namespace) -> int:
    info = as_admin(args, lambda platform, actor: platform.disable_user(actor, user_id(platform, actor, args.name)))
    print(f"disabled user {info.username}; their sessions and API tokens stop working now", file=sys.stderr)
    return 0


def cmd_user_role(args: argparse.Namespace) -> int:
    info = as_admin(args, lambda platform, actor: platform.set_role(actor, user_id(platform, actor, args.name),
                                                                      args.role))
    print(f"user {info.username} is now {info.role}", file=sys.stderr)
    return 0


def cmd_user_link_oidc(args: argparse.Namespace) -> int:
    info = as_admin(args, lambda platform, actor: platform.link_oidc_identity(
        actor, user_id(platform, actor, args.name), args.issuer, args.subject))
    print(f"user {info.username} now signs in with issuer {info.oidc_issuer}, subject {info.oidc_subject}",
          file=sys.stderr)
    return 0


def cmd_user_unlink_oidc(args: argparse.Namespace) -> int:
    info = as_admin(args, lambda platform, actor: platform.unlink_oidc_identity(
        actor, user_id(platform, actor, args.name)))
    print(f"user {info.username} has no identity-provider login any more", file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    from app.core.authz import ROLES

    usub = command_group(subparsers, "user", "manage accounts (admin; local database)")
    p = usub.add_parser("add", help="create an account (password: SYNTHGEN_NEW_PASSWORD or generated)")
    p.add_argument("name")
    p.add_argument("--role", required=True, choices=ROLES)
    user_flag(p)
    p.set_defaults(handler=cmd_user_add)
    p = usub.add_parser("disable", help="disable an account (its sessions and tokens stop working)")
    p.add_argument("name")
    user_flag(p)
    p.set_defaults(handler=cmd_user_disable)
    p = usub.add_parser("role", help="change an account's role")
    p.add_argument("name")
    p.add_argument("role", choices=ROLES)
    user_flag(p)
    p.set_defaults(handler=cmd_user_role)

    p = usub.add_parser("link-oidc", help="let an account sign in with an OpenID Connect identity (issuer + subject)")
    p.add_argument("name")
    p.add_argument("--issuer", required=True, help="the provider's issuer URL (the ID token's 'iss')")
    p.add_argument("--subject", required=True, help="the person's subject at the provider (the ID token's 'sub')")
    user_flag(p)
    p.set_defaults(handler=cmd_user_link_oidc)
    p = usub.add_parser("unlink-oidc", help="remove an account's OpenID Connect identity")
    p.add_argument("name")
    user_flag(p)
    p.set_defaults(handler=cmd_user_unlink_oidc)
