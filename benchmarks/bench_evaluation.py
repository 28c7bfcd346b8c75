"""Benchmark of the full evaluation on Adult (issue #3): wall time, peak RSS, per-stage seconds.

Adult is split 70/30 with seed 0 (train 34,189 rows, control 14,653 rows). Without
``--synthetic``, the synthetic table is a stand-in: the training rows with every column shuffled
independently (the real DP synthesizer is built elsewhere).

    .venv/bin/python benchmarks/bench_evaluation.py [--synthetic SYN.csv] [--attacks 1000] [-o report.html]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--synthetic", default=None)
    parser.add_argument("--attacks", type=int, default=1000)
    parser.add_argument("-o", "--output", default=None, help="also write the card (.html) or JSON")
    args = parser.parse_args()

    import psutil

    from evaluation import evaluate
    from evaluation.card import render_html
    from synthgen.io import read_table
    from synthgen.schema import Schema

    df = read_table(ROOT / "datasets" / "adult.csv")
    schema = Schema.load(ROOT / "datasets" / "adult.schema.json")
    perm = np.random.default_rng(0).permutation(len(df))
    n_train = int(round(0.7 * len(df)))
    train, control = df.iloc[perm[:n_train]].reset_index(drop=True), df.iloc[perm[n_train:]].reset_index(drop=True)
    if args.synthetic:
        syn = read_table(args.synthetic)
    else:
        rng = np.random.default_rng(1)
        syn = train.apply(lambda c: c.to_numpy()[rng.permutation(len(c))])
    print(f"train {len(train)} rows, control {len(control)} rows, synthetic {len(syn)} rows, attacks {args.attacks}")
    t0 = time.perf_counter()
    report = evaluate(train, syn, control, schema, rng=np.random.default_rng(0), target="income", n_attacks=args.attacks,
                      progress=lambda f, m: print(f"  [{time.perf_counter() - t0:6.1f} s] {f:4.0%} {m}", flush=True))
    wall = time.perf_counter() - t0
    if args.output:
        out = Path(args.output)
        out.write_text(render_html(report) if out.suffix == ".html" else report.to_json(), encoding="utf-8")
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"wall seconds: {wall:.1f}")
    print(f"peak RSS: {peak_kb / 1024 / 1024:.2f} GB (current {psutil.Process().memory_info().rss / 2**30:.2f} GB)")
    print("per-stage seconds:")
    for name, sec in report.timings.items():
        print(f"  {name:28s} {sec:8.2f}")
    print(f"overall verdict: {report.overall_verdict}")
    for m in report.metrics:
        d = m.details
        extra = ""
        if m.interval is not None:
            extra += f" CI [{m.interval[0]:.4f}, {m.interval[1]:.4f}]"
        if "n_attacks" in d:
            extra += f" n_attacks={d['n_attacks']}"
        if d.get("n_control_attacks") is not None:
            extra += f"/{d['n_control_attacks']} (requested {d['n_attacks_requested']}, half-width {d['half_width']:.3f})"
        if d.get("n_queries_generated") is not None:
            extra += f" queries={d['n_queries_generated']}"
        if d.get("n_combos") is not None:
            extra += f" combos={d['n_combos']}"
        if d.get("flags"):
            extra += f" flags={len(d['flags'])}"
        print(f"  {m.name:28s} {m.verdict:12s} {m.value if m.value is None else round(m.value, 4)}{extra}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
