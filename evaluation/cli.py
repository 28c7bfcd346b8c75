"""``synthgen evaluate``: the evaluation as a command (registered by ``app.cli`` through :func:`register`).

    synthgen evaluate --real TRAIN --synthetic SYN --control CONTROL --schema S
                      [--target COL] [--policy P] [--model MODEL.zip [--delta D] | --privacy PRIVACY.json]
                      [--budget-epsilon E] [--seed N] [--attacks N] [--audience full|ml_team]
                      -o report.(html|json)

``--model`` reads the DP accounting the model file carries (the ρ OpenDP consumed, the
synthesizer) and states it as ε at ``--delta`` (default 1e-9, the default of ``synthgen fit``).

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
    p.add_argument("--target", default=None, help="column for train-on-synthetic / test-on-real (default: the "
                   "column --model was fitted towards with fit --target, if any)")
    p.add_argument("--policy", default=None, help="policy file (.toml or .json); default: the shipped policy")
    p.add_argument("--model", default=None, help="model file written by 'synthgen fit': its DP accounting is used")
    p.add_argument("--delta", type=float, default=None, help="delta at which --model's rho is stated as epsilon (default 1e-9, as in fit)")
    p.add_argument("--budget-epsilon", type=float, default=None, help="the dataset's total epsilon budget, drawn on the card")
    p.add_argument("--privacy", default=None, help="JSON file with the synthesizer's DP accounting (epsilon, delta, rho, total_epsilon)")
    p.add_argument("--seed", type=int, default=0, help="seed of the evaluation's random generator (default 0)")
    p.add_argument("--attacks", type=int, default=1000, help="attacks per anonymeter evaluation (default 1000)")
    p.add_argument("--audience", choices=("full", "ml_team", "ml"), default="full",
                   help="full (data owner and privacy officers), or ml_team (no statistic of the real table)")
    p.add_argument("-o", "--output", required=True, help="report file: .html or .json")
    p.add_argument("--no-progress", action="store_true", help="do not show a progress bar")
    p.set_defaults(handler=handle)
    return p


DEFAULT_DELTA = 1e-9


def accounting_from_model(path: str, schema, delta: float | None) -> tuple[dict, str | None]:
    """The DP accounting a model file carries, as the ``privacy`` argument of ``evaluate``, and
    the target the model was fitted towards (AIM with ``--target``), if any."""
    import math

    from synthgen.budget import CONVERSION, PrivacyBudget
    from synthgen.model import FittedModel

    if not Path(path).is_file():
        raise EvaluationError(f"--model ({path!r}) must be a model file written by 'synthgen fit'")
    delta = DEFAULT_DELTA if delta is None else delta
    if not (isinstance(delta, float) and math.isfinite(delta) and 0 < delta < 1):
        raise EvaluationError(f"--delta ({delta!r}) must be a number between 0 and 1 (exclusive)")
    model = FittedModel.load(path)
    if not model.dp:
        raise EvaluationError(f"--model ({path!r}) is not differentially private: it has no DP accounting")
    if model.info.get("schema_fingerprint") != schema.fingerprint():
        raise EvaluationError(f"--model ({path!r}) was fitted with another schema than --schema ({schema.name!r})")
    rho = float((model.info.get("accounting") or {}).get("rho_consumed", model.info["budget"]["rho"]))
    privacy = {"rho": rho, "delta": delta, "epsilon": PrivacyBudget(rho).epsilon(delta), "conversion": CONVERSION,
               "mechanism": str(model.info.get("synthesizer", model.config.name))}
    return privacy, getattr(model.config, "target", None)


def handle(args: argparse.Namespace) -> int:
    import numpy as np

    from evaluation import evaluate, load_policy
    from evaluation.card import render_html, render_json
    from synthgen.io import atomic_write_text, read_table
    from synthgen.schema import Schema

    out = Path(args.output)
    if out.suffix.lower() not in (".html", ".json"):
        raise EvaluationError(f"output ({out.name!r}) must end in .html or .json")
    if args.model and args.privacy:
        raise EvaluationError("give either --model or --privacy, not both (both state the DP accounting)")
    if args.delta is not None and not args.model:
        raise EvaluationError("--delta is only used with --model")
    if args.budget_epsilon is not None and not (args.budget_epsilon > 0 and args.budget_epsilon < float("inf")):
        raise EvaluationError(f"--budget-epsilon ({args.budget_epsilon!r}) must be a positive number")
    schema = Schema.load(args.schema)
    policy = load_policy(args.policy) if args.policy else None
    privacy, fitted_for = accounting_from_model(args.model, schema, args.delta) if args.model else (None, None)
    target = args.target
    if target is None and fitted_for is not None:
        # the model was fitted towards this column: judge the release on it unless told otherwise
        target = fitted_for
        print(f"--target {fitted_for} (the column the model was fitted towards)", file=sys.stderr)
    real, syn, control = read_table(args.real), read_table(args.synthetic), read_table(args.control)
    if args.privacy:
        try:
            privacy = json.loads(Path(args.privacy).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise EvaluationError(f"privacy file {args.privacy!r} is not a readable JSON file ({exc.__class__.__name__})") from None
    if args.budget_epsilon is not None:
        if privacy is None:
            raise EvaluationError("--budget-epsilon needs the DP accounting (--model or --privacy)")
        privacy = {**privacy, "total_epsilon": args.budget_epsilon}
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
                          target=target, privacy=privacy, n_attacks=args.attacks, progress=progress)
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
