"""``synthgen evaluate``: the evaluation as a command (registered by ``app.cli`` through :func:`register`).

    synthgen evaluate --real TRAIN --synthetic SYN --control CONTROL --schema S
                      [--target COL] [--policy P] [--privacy PRIVACY.json] [--seed N]
                      [--attacks N] [--audience full|ml] -o report.(html|json)

Errors are :class:`synthgen.errors.SynthgenError` subclasses with one-line messages; the CLI
wrapper prints them and exits with status 2 (:func:`main` here does the same when run alone).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from evaluation.errors import EvaluationError
from synthgen.errors import SynthgenError


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("evaluate", help="score a synthetic table: utility, privacy risk, policy verdict")
    p.add_argument("--real", required=True, help="training table (CSV or Parquet) the synthesizer was fitted on")
    p.add_argument("--synthetic", required=True, help="synthetic table (CSV or Parquet)")
    p.add_argument("--control", required=True, help="real rows held out before fitting (CSV or Parquet)")
    p.add_argument("--schema", required=True, help="schema JSON")
    p.add_argument("--target", default=None, help="column for train-on-synthetic / test-on-real")
    p.add_argument("--policy", default=None, help="policy file (.toml or .json); default: the shipped policy")
    p.add_argument("--privacy", default=None, help="JSON file with the synthesizer's DP accounting (epsilon, delta, rho, total_epsilon)")
    p.add_argument("--seed", type=int, default=0, help="seed of the evaluation's random generator (default 0)")
    p.add_argument("--attacks", type=int, default=1000, help="attacks per anonymeter evaluation (default 1000)")
    p.add_argument("--audience", choices=("full", "ml"), default="full", help="full card, or the ML-team rendering")
    p.add_argument("-o", "--output", required=True, help="report file: .html or .json")
    p.add_argument("--no-progress", action="store_true", help="do not show a progress bar")
    p.set_defaults(handler=handle)
    return p


def handle(args: argparse.Namespace) -> int:
    import numpy as np

    from evaluation import evaluate, load_policy
    from evaluation.card import render_html, render_json
    from synthgen.io import atomic_write_text, read_table
    from synthgen.schema import Schema

    out = Path(args.output)
    if out.suffix.lower() not in (".html", ".json"):
        raise EvaluationError(f"output ({out.name!r}) must end in .html or .json")
    schema = Schema.load(args.schema)
    real, syn, control = read_table(args.real), read_table(args.synthetic), read_table(args.control)
    policy = load_policy(args.policy) if args.policy else None
    privacy = None
    if args.privacy:
        try:
            privacy = json.loads(Path(args.privacy).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise EvaluationError(f"privacy file {args.privacy!r} is not a readable JSON file ({exc.__class__.__name__})") from None
    bar = None
    progress = None
    if not args.no_progress:
        from tqdm import tqdm

        bar = tqdm(total=100, desc="evaluate", unit="%", file=sys.stderr, leave=False)

        def progress(fraction: float, message: str) -> None:
            bar.set_description(message[:40])
            bar.update(max(0, int(fraction * 100) - bar.n))

    try:
        report = evaluate(real, syn, control, schema, rng=np.random.default_rng(args.seed), policy=policy,
                          target=args.target, privacy=privacy, n_attacks=args.attacks, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    text = render_html(report, args.audience) if out.suffix.lower() == ".html" else render_json(report, args.audience)
    atomic_write_text(out, text)
    print(f"{report.overall_verdict}: report written to {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="synthgen")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except SynthgenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
