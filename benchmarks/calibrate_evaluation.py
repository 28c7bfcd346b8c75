"""Calibrate the default policy's utility gates on the shipped public tables.

For each table: a 70/30 split (training / control; by person when the schema has a person
column), DP releases at ε = 1 (MST and AIM, ``--runs`` fits each; AIM weighted towards the
table's target as the platform fits it for a release with a target, unless ``--no-target-weight``),
and three broken releases made
from the first fit of the last synthesizer listed: every column shuffled independently
(dependence destroyed, 1-way marginals kept), only the target shuffled, and one column replaced
by uniform noise inside its schema bounds/categories. Prints one line per (table, release) with
the gated figures and the verdicts, appends the rows as JSON to ``--out`` and writes each
release's full card to ``--cards``. ``--cache`` keeps every DP release as Parquet, so a rerun
only evaluates; ``--fit-only`` fits without evaluating (long fits in their own processes).

    PYTHONPATH=. python benchmarks/calibrate_evaluation.py --tables titanic pums_1000 --out /tmp/cal.jsonl
    PYTHONPATH=. python benchmarks/calibrate_evaluation.py --tables diabetes130 --synthesizers aim --runs 2 \
        --cache /tmp/eval-cal --fit-only

The figures quoted in benchmarks/README.md come from this script. OpenDP's noise is unseeded,
so DP rows differ from run to run; the split and the broken releases are seeded.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench_synthesizers import split_rows  # this script's folder is on sys.path when it runs

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"adult": "income", "titanic": "Survived", "pums_1000": "married", "breast_cancer": "diagnosis",
           "diabetes130": "readmitted", "bank_marketing": "y"}
NOISE_COLUMN = {"adult": "age", "titanic": "Age", "pums_1000": "income", "breast_cancer": "mean radius",
                "diabetes130": "num_lab_procedures", "bank_marketing": "balance"}
SHOWN = ("tvd_1way_mean", "tvd_1way_max", "tvd_1way_max_excess", "tvd_2way_mean", "tvd_2way_mean_excess", "tvd_3way_mean",
         "ks_max", "association_diff_mean", "association_diff_excess",
         "association_diff_excess_associated", "tstr_auc", "trtr_auc", "tstr_auc_ratio", "tstr_auc_skill_ratio")


def split(df: pd.DataFrame, schema, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """70/30 split; by person when the schema has a person column, so that no person's rows
    are on both sides (the control table must be independent of the training table). The same
    split as the synthesizer benchmark's."""
    return split_rows(df, schema.privacy_unit.person_column, seed)


def _cpu() -> float:
    return sum(resource.getrusage(resource.RUSAGE_SELF)[:2]) + sum(resource.getrusage(resource.RUSAGE_CHILDREN)[:2])


def _noise(frame: pd.DataFrame, col, rng: np.random.Generator) -> pd.DataFrame:
    out = frame.copy()
    if col.kind in ("numeric", "datetime"):
        edges = col.edges()
        out[col.name] = rng.uniform(edges[0], edges[-1], len(out))
    else:
        out[col.name] = rng.choice(np.asarray(col.categories, dtype=object), len(out))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tables", nargs="+", default=list(TARGETS))
    ap.add_argument("--synthesizers", nargs="+", default=["mst", "aim"])
    ap.add_argument("--attacks", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-train", type=int, default=None, help="subsample the training table (speed)")
    ap.add_argument("--out", default=None)
    ap.add_argument("--cache", default=None, help="directory keeping each DP release as Parquet (re-evaluate without refitting)")
    ap.add_argument("--epsilon", type=float, default=1.0, help="ε of the DP fits (δ = 1e-9)")
    ap.add_argument("--runs", type=int, default=1, help="DP fits per (table, synthesizer): OpenDP's noise is unseeded")
    ap.add_argument("--run-ids", type=int, nargs="+", default=None, help="fit only these run numbers (default 1..runs)")
    ap.add_argument("--cards", default=None, help="directory for each release's full card (HTML)")
    ap.add_argument("--no-target-weight", action="store_true",
                    help="fit AIM without weighting the target's pairs (cache files get a _plain suffix)")
    ap.add_argument("--fit-only", action="store_true", help="fit and cache the DP releases, evaluate nothing")
    args = ap.parse_args()

    from evaluation import evaluate
    from synthgen.budget import PrivacyBudget
    from synthgen.io import read_table
    from synthgen.schema import Schema
    from synthgen.synthesizers import config_by_name, fit

    for table in args.tables:
        path = ROOT / "datasets" / f"{table}.csv"
        df = read_table(path if path.exists() else path.with_suffix(".parquet"))
        schema = Schema.load(ROOT / "datasets" / f"{table}.schema.json")
        train, control = split(df, schema, args.seed)
        if args.max_train and len(train) > args.max_train:
            train = train.iloc[:args.max_train]
        target = TARGETS[table]
        releases: dict[str, pd.DataFrame] = {}
        privacy: dict[str, dict] = {}
        for name in args.synthesizers:
            for run in args.run_ids or range(1, args.runs + 1):
                label = f"{name} eps={args.epsilon:g}" + (f" #{run}" if run > 1 else "")
                stem = f"{table}_{name}_{args.seed}" + (f"_eps{args.epsilon:g}" if args.epsilon != 1 else "") + (f"_r{run}" if run > 1 else "") \
                    + ("_plain" if name == "aim" and args.no_target_weight else "")
                cached = Path(args.cache) / f"{stem}.parquet" if args.cache else None
                privacy[label] = {"epsilon": args.epsilon, "delta": 1e-9, "mechanism": name}
                if cached is not None and cached.exists():
                    releases[label] = pd.read_parquet(cached)
                    continue
                budget = PrivacyBudget.from_epsilon(args.epsilon, 1e-9)
                t0, c0 = time.perf_counter(), _cpu()
                # AIM is weighted towards the declared target, as the platform does for a release
                options = {"target": target} if name == "aim" and not args.no_target_weight else {}
                model = fit(train, schema, config_by_name(name, **options), budget)
                releases[label] = model.sample(len(train), rng=np.random.default_rng(args.seed + 1))
                print(f"# {table}: {label} fitted in {time.perf_counter() - t0:.0f} s wall, {_cpu() - c0:.0f} s CPU", flush=True)
                if cached is not None:
                    cached.parent.mkdir(parents=True, exist_ok=True)
                    releases[label].to_parquet(cached)
        if args.fit_only:
            continue
        base_name = next(n for n in reversed(releases) if "#" not in n)
        base = releases[base_name]
        r = np.random.default_rng(args.seed + 2)
        cols = [c.name for c in schema.synthesized_columns]
        shuffled = base.copy()
        for c in cols:
            shuffled[c] = base[c].sample(frac=1.0, random_state=int(r.integers(2**31))).to_numpy()
        releases["broken: columns shuffled"] = shuffled
        t_shuf = base.copy()
        t_shuf[target] = base[target].sample(frac=1.0, random_state=int(r.integers(2**31))).to_numpy()
        releases["broken: target shuffled"] = t_shuf
        releases[f"broken: {NOISE_COLUMN[table]} noise"] = _noise(base, schema.column(NOISE_COLUMN[table]), r)
        for rel, syn in releases.items():
            t0 = time.perf_counter()
            rep = evaluate(train, syn, control, schema, rng=np.random.default_rng(args.seed + 3), target=target,
                           privacy=privacy.get(rel, privacy[base_name]), n_attacks=args.attacks)
            row = {"table": table, "release": rel, "rows": [len(train), len(control)], "overall": rep.overall_verdict,
                   "utility": rep.group_verdict("utility"), "risk": rep.group_verdict("risk"),
                   "seconds": round(time.perf_counter() - t0, 1)}
            for m in rep.metrics:
                if m.name in SHOWN or m.group == "risk":
                    row[m.name] = None if m.value is None else round(m.value, 4)
                    if m.verdict in ("fail", "inconclusive"):
                        row.setdefault("not_pass", []).append(f"{m.name}={m.verdict}")
            if args.cards:
                from evaluation.card import render_html

                Path(args.cards).mkdir(parents=True, exist_ok=True)
                stem = "".join(ch if ch.isalnum() else "_" for ch in f"{table}_{rel}")
                (Path(args.cards) / f"{stem}.html").write_text(render_html(rep), encoding="utf-8")
            print(json.dumps(row), flush=True)
            if args.out:
                with open(args.out, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
