"""Benchmark of the full evaluation: wall and CPU time, peak RSS, per-stage seconds, card size.

Adult (default) is split 70/30 with seed 0 (train 34,189 rows, control 14,653 rows). Without
``--synthetic``, the synthetic table is a stand-in: the training rows with every column shuffled
independently (the real DP synthesizer is built elsewhere). ``--wide`` instead generates a
100,000 × 50 table (20 correlated numeric columns, 30 categorical columns with 2-40 categories,
public schema written here): train 100,000 rows, control 40,000, synthetic 100,000 (the same
generator, another seed). CPU seconds are printed beside wall seconds because the machine is
shared: wall time grows with other jobs' load, CPU time much less.

    .venv/bin/python benchmarks/bench_evaluation.py [--wide] [--synthetic SYN.csv] [--attacks 1000] [-o report.html]
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


def wide_tables():
    """A 100,000 × 50 table with dependence between columns, its control and a synthetic stand-in."""
    import pandas as pd

    from synthgen.schema import Schema

    def draw(n: int, seed: int) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        latent = rng.normal(size=(n, 5))
        cols = {}
        for j in range(20):
            x = latent[:, j % 5] * (1 + j % 3) + rng.normal(scale=0.7, size=n)
            cols[f"num{j:02d}"] = np.clip(np.round(50 + 10 * x, 2), 0, 100)
        for j in range(30):
            k = 2 + (j * 7) % 39
            z = latent[:, j % 5] + rng.normal(scale=0.8, size=n)
            codes = np.clip(((z + 3) / 6 * k).astype(int), 0, k - 1)
            cols[f"cat{j:02d}"] = np.array([f"v{c}" for c in range(k)], dtype=object)[codes]
        return pd.DataFrame(cols)

    columns = [{"name": f"num{j:02d}", "kind": "numeric", "role": "quasi_identifier" if j < 4 else "attribute",
                "nullable": False, "lower": 0, "upper": 100, "cuts": [10, 20, 30, 40, 50, 60, 70, 80, 90], "integer": False}
               for j in range(20)]
    columns += [{"name": f"cat{j:02d}", "kind": "categorical",
                 "role": "sensitive" if j in (0, 1) else "quasi_identifier" if j < 6 else "attribute",
                 "nullable": False, "categories": [f"v{c}" for c in range(2 + (j * 7) % 39)]} for j in range(30)]
    schema = Schema.from_dict({"schema_version": 1, "name": "wide", "derived_from_private_data": False,
                               "privacy_unit": {"person_column": None, "max_rows": 1}, "columns": columns})
    return draw(100_000, 1), draw(40_000, 2), draw(100_000, 3), schema, "cat00"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--synthetic", default=None)
    parser.add_argument("--wide", action="store_true", help="100,000 x 50 generated table instead of Adult")
    parser.add_argument("--attacks", type=int, default=1000)
    parser.add_argument("-o", "--output", default=None, help="also write the card (.html) or JSON")
    args = parser.parse_args()

    import psutil

    from evaluation import evaluate
    from evaluation.card import render_html
    from synthgen.io import read_table
    from synthgen.schema import Schema

    if args.wide:
        train, control, syn, schema, target = wide_tables()
    else:
        df = read_table(ROOT / "datasets" / "adult.csv")
        schema = Schema.load(ROOT / "datasets" / "adult.schema.json")
        target = "income"
        perm = np.random.default_rng(0).permutation(len(df))
        n_train = int(round(0.7 * len(df)))
        train, control = df.iloc[perm[:n_train]].reset_index(drop=True), df.iloc[perm[n_train:]].reset_index(drop=True)
        if args.synthetic:
            syn = read_table(args.synthetic)
        else:
            rng = np.random.default_rng(1)
            syn = train.apply(lambda c: c.to_numpy()[rng.permutation(len(c))])
    print(f"train {len(train)} rows, control {len(control)} rows, synthetic {len(syn)} rows, attacks {args.attacks}")
    # user + system CPU of this process (all its threads) and of any worker processes it waited for
    cpu = lambda: sum(resource.getrusage(resource.RUSAGE_SELF)[:2]) + sum(resource.getrusage(resource.RUSAGE_CHILDREN)[:2])
    # The libraries' import cost (scikit-learn, SciPy, anonymeter, SDMetrics: tens of CPU seconds
    # on a loaded machine) is paid once per process, by a long-running worker once in its life;
    # it is measured here apart from the evaluation itself.
    ti, ci = time.perf_counter(), cpu()
    import anonymeter.evaluators  # noqa: F401
    import sdmetrics.reports  # noqa: F401
    import sklearn.ensemble  # noqa: F401
    import sklearn.metrics  # noqa: F401
    import sklearn.neighbors  # noqa: F401
    print(f"library imports: wall {time.perf_counter() - ti:.1f} s, CPU {cpu() - ci:.1f} s")
    # peak resident memory per stage, sampled every 50 ms by a thread (the stage is the last
    # progress message): shows which stage sets the process's peak
    import threading

    proc, stage, peaks, done = psutil.Process(), ["before evaluate"], {}, threading.Event()
    print(f"RSS with the tables loaded: {proc.memory_info().rss / 2**30:.2f} GiB")

    def watch() -> None:
        while not done.is_set():
            peaks[stage[0]] = max(peaks.get(stage[0], 0), proc.memory_info().rss)
            done.wait(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()

    def progress(f: float, m: str) -> None:
        stage[0] = m
        print(f"  [wall {time.perf_counter() - t0:6.1f} s, CPU {cpu() - c0:6.1f} s] {f:4.0%} {m}", flush=True)

    t0, c0 = time.perf_counter(), cpu()
    report = evaluate(train, syn, control, schema, rng=np.random.default_rng(0), target=target, n_attacks=args.attacks,
                      privacy={"epsilon": 1.0, "delta": 1e-9, "total_epsilon": 3.0},
                      progress=progress)
    wall, cpu_s = time.perf_counter() - t0, cpu() - c0
    done.set()
    watcher.join()
    sizes = {a: len(render_html(report, a).encode("utf-8")) for a in ("full", "ml_team")}
    if args.output:
        out = Path(args.output)
        out.write_text(render_html(report) if out.suffix == ".html" else report.to_json(), encoding="utf-8")
    peak_kb = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    print(f"wall seconds: {wall:.1f}  CPU seconds: {cpu_s:.1f}  load average: {psutil.getloadavg()[0]:.1f}")
    print(f"card bytes: full {sizes['full']:,}, ml_team {sizes['ml_team']:,}")
    print(f"peak RSS: {peak_kb / 1024 / 1024:.2f} GiB = {peak_kb * 1024 / 1e9:.2f} GB (current {psutil.Process().memory_info().rss / 2**30:.2f} GiB)")
    print("peak RSS per stage (GiB): " + ", ".join(f"{k}: {v / 2**30:.2f}" for k, v in peaks.items()))
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
        if d.get("n_control_attacks") is not None and d.get("half_width") is not None:
            extra += f"/{d['n_control_attacks']} (requested {d['n_attacks_requested']}, half-width {d['half_width']:.3f})"
        if d.get("n_queries_generated") is not None:
            extra += f" queries={d['n_queries_generated']}"
        if d.get("n_combos") is not None:
            extra += f" combos={d['n_combos']}"
        if d.get("flags"):
            extra += f" flags={d['flags']}"
        if d.get("warnings"):
            extra += f" warnings={len(d['warnings'])}"
        print(f"  {m.name:28s} {m.verdict:12s} {m.value if m.value is None else round(m.value, 4)}{extra}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
