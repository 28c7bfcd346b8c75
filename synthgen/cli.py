"""The library's commands of the ``synthgen`` command line: ``schema draft|review|discover|top-k|check``,
``fit`` and ``sample``, which need no platform.

The ``synthgen`` console script itself is :mod:`app.cli` (it adds the evaluation and the
platform's commands); ``python -m synthgen.cli`` runs these commands alone. Each package adds
its commands the same way, with a ``register(subparsers)`` function; :func:`command_group` lets
several modules add commands to one group.

Errors are one line on stderr; the exit code of each kind of error comes from
:data:`synthgen.errors.ERROR_KINDS` (0 success, 2 bad input, 3 not authorised, 1 internal).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Callable, Sequence

from synthgen.errors import ERROR_KINDS, ErrorKind, InvalidInputError, SynthgenError, rule_for
from synthgen.synthesizers import registry

EXIT_BAD_INPUT = ERROR_KINDS[ErrorKind.BAD_INPUT].exit_code


class Parser(argparse.ArgumentParser):
    """argparse that reports usage errors with exit code 2 and one line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"error: {message} (see '{self.prog} --help')\n")


def command_group(subparsers: argparse._SubParsersAction, name: str, help: str) -> argparse._SubParsersAction:
    """The sub-command parser of the group ``synthgen NAME ...``, created on first use, so that
    several modules can add commands to one group (``schema draft`` here, another module's
    ``schema review``) without editing each other."""
    parser = subparsers.choices.get(name)
    if parser is None:
        parser = subparsers.add_parser(name, help=help)
    group = getattr(parser, "command_group", None)
    if group is None:
        group = parser.add_subparsers(dest=f"{name}_command", required=True, parser_class=Parser)
        parser.command_group = group
    return group


def _progress_bar(description: str) -> tuple[Callable[[float, str], None], Callable[[], None]]:
    from tqdm import tqdm

    bar = tqdm(total=100, desc=description, unit="%", file=sys.stderr, bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix}")

    def update(fraction: float, message: str) -> None:
        target = int(max(0.0, min(1.0, fraction)) * 100)
        if target > bar.n:
            bar.update(target - bar.n)
        bar.set_postfix_str(message[:60])

    return update, bar.close


def _float_arg(name: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            return float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} ({text!r}) must be a number") from None

    return parse


# -- commands -------------------------------------------------------------------------------
def cmd_schema_draft(args: argparse.Namespace) -> int:
    import json

    from synthgen.draft import draft_schema_with_report, format_report
    from synthgen.io import atomic_write_text, read_table

    frame = read_table(args.data)
    schema, decisions = draft_schema_with_report(frame, name=args.name or Path(args.data).stem, bins=args.bins)
    schema.save(args.output)
    if args.report:
        atomic_write_text(Path(args.report), json.dumps([d.to_dict() for d in decisions], indent=2) + "\n")
    print(format_report(decisions), file=sys.stderr)
    attention = sum(d.needs_attention for d in decisions)
    print(
        f"wrote {args.output}: DRAFT derived from the private table (owner-only, never ship it); "
        f"{attention} column(s) marked '!' need attention. Replace the values read off the data with public ones "
        "or confirm them: synthgen schema review EDITED --draft DRAFT --reviewer NAME [--confirm COLUMN ...]",
        file=sys.stderr,
    )
    return 0


def cmd_schema_review(args: argparse.Namespace) -> int:
    import json

    from synthgen.io import atomic_write_text
    from synthgen.review import review_with_log
    from synthgen.schema import Schema

    draft = Schema.load(args.draft)
    edited = Schema.load(args.schema)
    reviewed, log = review_with_log(draft, edited, reviewer=args.reviewer, confirm=list(args.confirm or []))
    reviewed.save(args.output)
    if args.log:  # owner-only: it compares with the draft's values
        atomic_write_text(Path(args.log), json.dumps(log, indent=2, default=str) + "\n")
    for change in log["changes"]:
        print(f"  {change['column']}.{change['field']}: {change['draft']} -> {change['reviewed']}", file=sys.stderr)
    record = reviewed.review
    print(
        f"wrote {args.output}: reviewed by {record.reviewer} at {record.reviewed_at}; "
        f"{len(log['changes'])} change(s) from the draft, {len(record.confirmed)} column(s) confirmed as read",
        file=sys.stderr,
    )
    return 0


def cmd_schema_discover(args: argparse.Namespace) -> int:
    from synthgen.budget import PrivacyBudget
    from synthgen.discovery import discover_schema, parse_numeric_spec
    from synthgen.io import read_table

    from synthgen.schema import PrivacyUnit

    numeric = dict(parse_numeric_spec(text) for text in args.numeric or [])
    budget = PrivacyBudget.from_epsilon(args.epsilon, args.delta)
    unit = PrivacyUnit(args.person, args.max_rows) if args.person else PrivacyUnit(max_rows=args.max_rows)
    identifiers = list(args.identifier or [])
    if args.person and args.person not in identifiers:
        identifiers.append(args.person)  # the person column is an identifier: never measured
    frame = read_table(args.data)
    _print_bound(frame, unit)
    schema, accounting = discover_schema(
        frame, numeric=numeric, identifiers=identifiers, budget=budget,
        delta=args.delta, bins=args.bins, name=args.name or Path(args.data).stem, privacy_unit=unit,
    )
    schema.save(args.output)
    print(
        f"wrote {args.output}: discovered with DP, spent rho {accounting['rho']:.6g} (zCDP, epsilon {args.epsilon:g} "
        f"at delta {args.delta:g}) plus delta {args.delta:g} for key thresholding; charge it to this table's budget",
        file=sys.stderr,
    )
    return 0


def cmd_schema_top_k(args: argparse.Namespace) -> int:
    import json

    from synthgen.io import atomic_write_text, read_table
    from synthgen.schema import Schema
    from synthgen.topk_select import parse_column_k, select_top_k

    columns = dict(parse_column_k(text) for text in args.column or [])
    schema = Schema.load(args.schema)
    if args.epsilon <= 0:  # before the private table is read
        raise InvalidInputError(f"--epsilon ({args.epsilon:g}) must be > 0")
    frame = read_table(args.data)
    chosen, accounting = select_top_k(frame, schema, epsilon=args.epsilon, delta=args.delta, columns=columns or None)
    _print_bound(frame, schema.privacy_unit)
    chosen.save(args.output)
    if args.accounting:
        atomic_write_text(Path(args.accounting), json.dumps(accounting, indent=2) + "\n")
    for name, part in accounting["columns"].items():
        print(f"  {name}: kept {part['kept']} of at most {part['k']} values plus '<other>' "
              f"(epsilon {part['epsilon']:.4g}, rho {part['rho']:.6g}, delta {part['delta']:.3g})", file=sys.stderr)
    print(
        f"wrote {args.output}: top-k categories chosen with DP, spent epsilon {args.epsilon:g} at delta {args.delta:g} "
        f"(rho {accounting['rho']:.6g} zCDP plus delta {args.delta:g} for key thresholding); charge it to this table's budget",
        file=sys.stderr,
    )
    return 0


def cmd_schema_check(args: argparse.Namespace) -> int:
    import json

    from synthgen.errors import SchemaError
    from synthgen.review import schema_problems, table_problems

    try:
        data = json.loads(Path(args.schema).read_text(encoding="utf-8"))
    except (FileNotFoundError, IsADirectoryError):
        raise SchemaError(f"schema file {str(args.schema)!r} does not exist") from None
    except UnicodeDecodeError:
        raise SchemaError(f"schema file {str(args.schema)!r} is not a UTF-8 JSON file") from None
    except json.JSONDecodeError as exc:
        raise SchemaError(f"schema is not valid JSON: {exc.msg} at line {exc.lineno}") from None
    schema, problems = schema_problems(data)
    if schema is not None and args.data:
        from synthgen.io import read_table

        problems += table_problems(read_table(args.data), schema)
    for problem in problems:
        print(f"problem: {problem}")
    if problems:
        print(f"{args.schema}: {len(problems)} problem(s)", file=sys.stderr)
        return EXIT_BAD_INPUT
    cells = schema.domain_size()
    print(f"{args.schema}: {len(schema.columns)} columns, {len(schema.synthesized_columns)} synthesized, domain {cells:.3g} cells: ok")
    return 0


def _budget_from_args(args: argparse.Namespace, dp: bool):
    from synthgen.budget import PrivacyBudget

    if not dp:
        if args.epsilon is not None or args.rho is not None:
            raise InvalidInputError(f"--epsilon/--rho must not be given for {args.synthesizer}: it is not differentially private")
        return None
    if args.rho is not None and args.epsilon is not None:
        raise InvalidInputError("give either --epsilon (with --delta) or --rho, not both")
    if args.rho is not None:
        return PrivacyBudget.from_rho(args.rho)
    if args.epsilon is None:
        raise InvalidInputError(f"--epsilon (or --rho) is required for the DP synthesizer {args.synthesizer}")
    return PrivacyBudget.from_epsilon(args.epsilon, args.delta)


def cmd_fit(args: argparse.Namespace) -> int:
    from synthgen.io import read_table
    from synthgen.schema import Schema
    from synthgen.synthesizers import check_fit_inputs, config_by_name, fit

    schema = Schema.load(args.schema) if args.synthesizer is None else None
    by_default = args.synthesizer is None
    if by_default:
        args.synthesizer = registry.default_for(len(schema.synthesized_columns))
    if args.target is not None and args.synthesizer != "aim":
        default = f"the default for {len(schema.synthesized_columns)} synthesized columns is " if by_default else ""
        raise InvalidInputError(f"--target steers AIM only; {default}{args.synthesizer}: "
                                f"add --synthesizer aim or leave --target out")
    config = config_by_name(args.synthesizer, **({"target": args.target} if args.target is not None else {}))
    budget = _budget_from_args(args, config.dp)
    schema = schema if schema is not None else Schema.load(args.schema)
    if not str(args.output).endswith(".zip") and config.dp:
        raise InvalidInputError(f"output ({args.output}) must end in .zip (a synthgen model file)")
    check_fit_inputs(schema, config, budget)  # before the private table is read
    if not config.dp:
        # refused before the private table is read: fitting it only to throw the model away
        # would spend the owner's time and touch the data for nothing
        raise InvalidInputError(f"{config.name} is a non-DP baseline and cannot be saved without pickle; use it from Python")
    if config.dp:
        schema.require_reviewed()
    # said with the progress and the result (an error must stay one line)
    chosen = (f" (default for {len(schema.synthesized_columns)} synthesized columns; --synthesizer chooses another)"
              if by_default else "")
    if getattr(config, "target", None):
        chosen += f", weighted towards {config.target!r}"
    if args.engine != "memory":
        from synthgen.engines import check_engine
        from synthgen.synthesizers import fit_file

        check_engine(args.engine, config)
        if args.strict:
            raise InvalidInputError("--strict checks the table in memory; use it with --engine memory")
        update, close = _progress_bar(f"fit {config.name}{chosen} ({args.engine})")
        try:
            model = fit_file(args.data, schema, config, budget, engine=args.engine, progress=update)
        finally:
            close()
        model.save(args.output)
        print(f"wrote {args.output}: {config.name} on engine {args.engine} spent rho {model.info['budget']['rho']:.6g}", file=sys.stderr)
        _print_owner_facts(model)
        return 0
    frame = read_table(args.data)
    from synthgen.encoding import check_columns_present, encode

    check_columns_present(frame, schema)
    if args.strict:
        encode(frame, schema, strict=True)
    update, close = _progress_bar(f"fit {config.name}{chosen}")
    try:
        model = fit(frame, schema, config, budget, progress=update)
    finally:
        close()
    model.save(args.output)
    spent = model.info["budget"]["rho"]
    shown = f"epsilon {budget.epsilon(args.delta):.4g} at delta {args.delta:g}, " if args.epsilon is not None else ""
    print(f"wrote {args.output}: {config.name}{chosen} spent {shown}rho {spent:.6g}", file=sys.stderr)
    _print_owner_facts(model)
    return 0


def _print_bound(frame, unit) -> None:
    """What the person-level bound sets aside before a DP measurement (discovery, top-k): exact
    counts for the data owner running the command, printed and never saved."""
    if unit.person_column is None or unit.person_column not in frame.columns:
        return  # the measurement itself reports a missing person column
    from synthgen.encoding import bound_rows_per_person

    bounded = bound_rows_per_person(frame, unit)
    if bounded.rows_set_aside:
        print(f"the person-level bound set aside {bounded.rows_set_aside} rows ({bounded.rows_over_limit} beyond the "
              f"rows allowed per person, {bounded.rows_without_person} without a person id) before measuring",
              file=sys.stderr)


def _print_owner_facts(model) -> None:
    facts = model.data_owner_facts
    if facts.get("rows_set_aside_by_person_bound"):
        # exact counts of the private table: for the data owner running this command, never saved
        print(f"the person-level bound set aside {facts['rows_set_aside_by_person_bound']} rows "
              f"({facts['rows_over_person_limit']} beyond the rows allowed per person, "
              f"{facts['rows_without_person_id']} without a person id); not written to the model file",
              file=sys.stderr)


def cmd_sample(args: argparse.Namespace) -> int:
    import numpy as np

    from synthgen.io import write_table
    from synthgen.model import FittedModel, check_rows

    if args.rows is not None:
        check_rows(args.rows)
    if Path(args.output).suffix.lower() not in (".csv", ".parquet"):
        raise InvalidInputError(f"output ({args.output}) must end in .csv or .parquet")
    model = FittedModel.load(args.model)
    rng = np.random.default_rng(args.seed)
    if Path(args.output).suffix.lower() == ".parquet":
        written = model.sample_to_parquet(args.output, args.rows, rng=rng)  # streamed, chunk by chunk
        print(f"wrote {args.output}: {written:,} synthetic rows", file=sys.stderr)
        return 0
    frame = model.sample(args.rows, rng=rng)
    write_table(frame, args.output)
    print(f"wrote {args.output}: {len(frame):,} synthetic rows", file=sys.stderr)
    return 0


def new_parser(description: str) -> tuple[argparse.ArgumentParser, argparse._SubParsersAction]:
    """The ``synthgen`` parser with its global options, and its (empty) sub-command parser."""
    parser = Parser(prog="synthgen", description=description)
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    return parser, parser.add_subparsers(dest="command", required=True, parser_class=Parser)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the library's commands (schema, fit, sample) to ``synthgen``'s sub-command parser."""
    schema_sub = command_group(sub, "schema", "draft or check a schema")
    draft = schema_sub.add_parser("draft", help="draft a schema from the private table (owner-only; review before use)")
    draft.add_argument("data", help="CSV (empty cell = missing) or Parquet file")
    draft.add_argument("-o", "--output", required=True, help="schema JSON to write")
    draft.add_argument("--name", help="table name (default: file name)")
    draft.add_argument("--bins", type=int, default=16, help="quantile bins per numeric column (default 16)")
    draft.add_argument("--report", help="also write the per-column decisions and reasons as JSON (owner-only)")
    draft.set_defaults(handler=cmd_schema_draft)
    review = schema_sub.add_parser("review", help="record the owner's review of a draft; refuses unconfirmed values read off the data")
    review.add_argument("schema", help="the edited schema JSON (the draft after the owner's changes)")
    review.add_argument("--draft", required=True, help="the draft written by 'synthgen schema draft'")
    review.add_argument("--reviewer", required=True, help="who reviewed (recorded in the schema)")
    review.add_argument("--confirm", action="append", metavar="COLUMN",
                        help="confirm that this column's values read off the data are public knowledge (repeatable)")
    review.add_argument("-o", "--output", required=True, help="reviewed schema JSON to write")
    review.add_argument("--log", help="also write the owner-only review log (each change from the draft) as JSON")
    review.set_defaults(handler=cmd_schema_review)
    discover = schema_sub.add_parser("discover", help="release a schema with DP (no peeking; spends budget)")
    discover.add_argument("data", help="CSV (empty cell = missing) or Parquet file")
    discover.add_argument("--epsilon", type=_float_arg("epsilon"), required=True, help="budget spent on discovery")
    discover.add_argument("--delta", type=_float_arg("delta"), default=1e-9, help="delta (default 1e-9)")
    discover.add_argument("--numeric", action="append", metavar="NAME=LO:HI[:float]", help="numeric column with its public bounds")
    discover.add_argument("--identifier", action="append", metavar="NAME", help="identifier column (never measured)")
    discover.add_argument("--bins", type=int, default=8, help="quantile bins per numeric column (default 8)")
    discover.add_argument("--person", metavar="NAME", help="person column: the privacy unit is one person, not one row")
    discover.add_argument("--max-rows", type=int, default=1, help="rows kept per person (with --person; default 1)")
    discover.add_argument("--name", help="table name (default: file name)")
    discover.add_argument("-o", "--output", required=True, help="schema JSON to write")
    discover.set_defaults(handler=cmd_schema_discover)
    top_k = schema_sub.add_parser("top-k", help="choose the k most frequent values of columns with DP, the rest as <other> (spends budget)")
    top_k.add_argument("schema", help="schema JSON whose columns declare top_k (or name them with --column)")
    top_k.add_argument("--data", required=True, help="CSV (empty cell = missing) or Parquet file")
    top_k.add_argument("--epsilon", type=_float_arg("epsilon"), required=True, help="budget spent on the selection (all columns)")
    top_k.add_argument("--delta", type=_float_arg("delta"), default=1e-9, help="delta (default 1e-9)")
    top_k.add_argument("--column", action="append", metavar="NAME=K", help="declare a top-k column with its k (repeatable)")
    top_k.add_argument("-o", "--output", required=True, help="schema JSON to write")
    top_k.add_argument("--accounting", help="also write the spend (per column, in rho, delta and epsilon) as JSON")
    top_k.set_defaults(handler=cmd_schema_top_k)
    check = schema_sub.add_parser("check", help="list every problem of a schema, optionally with counts against a table")
    check.add_argument("schema")
    check.add_argument("--data", help="also check that every value of this table fits the schema")
    check.set_defaults(handler=cmd_schema_check)

    fit = sub.add_parser("fit", help="fit a synthesizer and save the model")
    fit.add_argument("data", help="CSV (empty cell = missing) or Parquet file")
    fit.add_argument("--schema", required=True, help="reviewed schema JSON")
    fit.add_argument("--synthesizer", choices=[f.name for f in registry.all_facts()], default=None,
                     help=f"default: aim up to {registry.AIM_DEFAULT_MAX_COLUMNS} synthesized columns, mst above "
                          "(decided from the schema). " + "; ".join(f"{f.name}: {f.label}, {f.tradeoff}"
                                                                    for f in registry.all_facts()))
    fit.add_argument("--epsilon", type=_float_arg("epsilon"), help="privacy loss epsilon (with --delta)")
    fit.add_argument("--delta", type=_float_arg("delta"), default=1e-9, help="delta (default 1e-9)")
    fit.add_argument("--rho", type=_float_arg("rho"), help="privacy loss as rho (zCDP) instead of epsilon/delta")
    fit.add_argument("--target", default=None,
                     help="AIM only: the column the synthetic table will be used to predict; AIM favours the "
                          "relations that hold it (a column name is public: no budget)")
    fit.add_argument("--strict", action="store_true", help="refuse values outside the schema instead of clipping/leaving them out")
    fit.add_argument("--engine", choices=["memory", "polars", "spark"], default="memory",
                     help="where the rows are counted: memory (pandas, default), polars (out of core, large files), "
                          "spark (MST or AIM; the Spark session of spark-submit, or local)")
    fit.add_argument("-o", "--output", required=True, help="model file to write (.zip)")
    fit.set_defaults(handler=cmd_fit)

    sample = sub.add_parser("sample", help="sample synthetic rows from a saved model (spends no budget)")
    sample.add_argument("model", help="model file written by 'synthgen fit'")
    sample.add_argument("--rows", type=int, help="number of rows (default: the DP estimate of the table size)")
    sample.add_argument("--seed", type=int, help="seed of the (non-DP) sampling randomness, for reproducible output")
    sample.add_argument("-o", "--output", required=True, help="output .csv or .parquet")
    sample.set_defaults(handler=cmd_sample)


def build_parser() -> argparse.ArgumentParser:
    """The library's commands alone (``python -m synthgen.cli``)."""
    parser, sub = new_parser("Differentially-private synthetic data: draft schemas, fit, sample.")
    register(sub)
    return parser


def run(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen command: errors are one line on stderr, the exit code
    is their kind's (:data:`synthgen.errors.ERROR_KINDS`)."""
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.handler(args) or 0)
    except SynthgenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return rule_for(exc).exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
