"""``synthgen budget show|raise|approve|reject``: a dataset's lifetime budget (local database).

Raising is asked by the data owner and applied only when a privacy officer of the dataset who
did not ask approves it; each step is one audit entry (see app.core.services.budget).
"""

from __future__ import annotations

import argparse
import sys

from app.cli.common import as_admin, positive_int, user_flag
from synthgen.cli import command_group


def _describe(summary) -> str:
    line = (f"dataset {summary.dataset_id}: lifetime epsilon {summary.total.epsilon(summary.delta):.4g} at delta "
            f"{summary.delta:g}; spent {summary.spent.epsilon(summary.delta):.4g}, "
            f"remaining {summary.remaining.epsilon(summary.delta):.4g}")
    if summary.pending_raise is not None:
        line += (f"; raise {summary.pending_raise.id} to epsilon {summary.pending_raise.epsilon:g} waits for a "
                 "privacy officer")
    return line


def cmd_budget_show(args: argparse.Namespace) -> int:
    print(_describe(as_admin(args, lambda platform, actor: platform.budget_summary(actor, args.dataset))))
    return 0


def cmd_budget_raise(args: argparse.Namespace) -> int:
    print(_describe(as_admin(args, lambda platform, actor: platform.set_budget(actor, args.dataset, args.epsilon))))
    return 0


def cmd_budget_decide(args: argparse.Namespace) -> int:
    def decide(platform, actor):
        if args.decision == "approve":
            return platform.approve_budget_raise(actor, args.raise_id)
        return platform.reject_budget_raise(actor, args.raise_id)

    summary = as_admin(args, decide)
    print(f"budget raise {args.raise_id} {args.decision}d", file=sys.stderr)
    print(_describe(summary))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    from synthgen.cli import _float_arg

    bsub = command_group(subparsers, "budget", "a dataset's lifetime privacy budget (local database)")
    p = bsub.add_parser("show", help="the dataset's budget and any raise waiting for approval")
    p.add_argument("dataset", type=positive_int("dataset"))
    user_flag(p)
    p.set_defaults(handler=cmd_budget_show)
    p = bsub.add_parser("set", help="data owner: lower the lifetime epsilon now, or ask a privacy officer to raise it")
    p.add_argument("dataset", type=positive_int("dataset"))
    p.add_argument("epsilon", type=_float_arg("epsilon"))
    user_flag(p)
    p.set_defaults(handler=cmd_budget_raise)
    for decision in ("approve", "reject"):
        p = bsub.add_parser(decision, help=f"privacy officer: {decision} a pending budget raise (not your own)")
        p.add_argument("raise_id", type=positive_int("raise id"))
        user_flag(p)
        p.set_defaults(handler=cmd_budget_decide, decision=decision)
