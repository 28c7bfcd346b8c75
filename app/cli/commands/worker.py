"""``synthgen worker [--once] [--poll-interval S]``: run the platform's queued fits and evaluations."""

from __future__ import annotations

import argparse


def cmd_worker(args: argparse.Namespace) -> int:
    from app.core.worker import main as worker_main

    return int(worker_main(args.worker_args) or 0)


def register(subparsers: argparse._SubParsersAction) -> None:
    worker = subparsers.add_parser("worker", help="run the platform's job worker")
    worker.add_argument("worker_args", nargs=argparse.REMAINDER)
    worker.set_defaults(handler=cmd_worker)
