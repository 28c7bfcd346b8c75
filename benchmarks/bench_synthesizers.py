"""Benchmark of the DP synthesizers on UCI Adult (issue #2's yardstick). Prints a table.

    .venv/bin/python benchmarks/bench_synthesizers.py [--epsilons 0.3 1 3] [--synthesizers mst aim]

Protocol: Adult (datasets/adult.csv), 70/30 split with seed 0 (34,189 train / 14,653 holdout),
δ = 1e-9. For each synthesizer and ε, a fresh subprocess runs ``synthgen.synthesizers.fit`` and
samples the DP-estimated number of rows, so peak RSS is per run. Figures:

* fit+sample seconds, peak RSS (MB) of that subprocess;
* average total-variation distance over all 1-, 2- and 3-way marginals on a fixed evaluation
  discretisation (numeric columns in 16 quantile bins of the real training split, missing as its
  own value), synthetic vs real training split;
* train-on-synthetic / test-on-real ROC AUC for ``income`` with HistGradientBoosting, tested on
  the 30 % holdout.

The "holdout" row scores the real holdout itself in place of a synthetic table: the sampling floor.
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET = "income"
DELTA = 1e-9


def load_split() -> tuple[pd.DataFrame, pd.DataFrame]:
    from synthgen.io import read_table

    frame = read_table(ROOT / "datasets" / "adult.csv")
    rng = np.random.default_rng(0)
    order = rng.permutation(len(frame))
    cut = int(round(0.7 * len(frame)))
    return frame.iloc[order[:cut]].reset_index(drop=True), frame.iloc[order[cut:]].reset_index(drop=True)


def discretise(train: pd.DataFrame, *frames: pd.DataFrame) -> list[np.ndarray]:
    """Integer-code every column: numeric in 16 quantile bins of ``train``, missing its own code."""
    out = [np.zeros((len(f), train.shape[1]), dtype=np.int64) for f in frames]
    for j, col in enumerate(train.columns):
        if pd.api.types.is_numeric_dtype(train[col]):
            edges = np.unique(np.quantile(train[col].dropna(), np.linspace(0, 1, 17)[1:-1]))
            for f, o in zip(frames, out):
                vals = pd.to_numeric(f[col], errors="coerce").to_numpy(dtype=float)
                codes = np.searchsorted(edges, vals, side="right")
                o[:, j] = np.where(np.isnan(vals), len(edges) + 1, codes)
        else:
            cats = {v: i for i, v in enumerate(sorted(train[col].dropna().astype(str).unique()))}
            for f, o in zip(frames, out):
                o[:, j] = f[col].map(lambda v: cats.get(str(v), len(cats)) if pd.notna(v) else len(cats) + 1).to_numpy()
    return out


def average_tvd(real: np.ndarray, synth: np.ndarray, ways: int) -> float:
    sizes = np.maximum(real.max(axis=0), synth.max(axis=0)) + 1
    scores = []
    for cols in itertools.combinations(range(real.shape[1]), ways):
        dims = tuple(int(sizes[c]) for c in cols)
        r = np.bincount(np.ravel_multi_index(tuple(real[:, c] for c in cols), dims), minlength=int(np.prod(dims)))
        s = np.bincount(np.ravel_multi_index(tuple(synth[:, c] for c in cols), dims), minlength=int(np.prod(dims)))
        scores.append(0.5 * np.abs(r / r.sum() - s / s.sum()).sum())
    return float(np.mean(scores))


def tstr_auc(train: pd.DataFrame, test: pd.DataFrame) -> float:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    features = [c for c in test.columns if c != TARGET]
    cat_cols = [c for c in features if not pd.api.types.is_numeric_dtype(test[c])]

    def prepare(frame: pd.DataFrame) -> pd.DataFrame:
        x = frame[features].copy()
        for c in cat_cols:
            x[c] = pd.Categorical(x[c].astype(str), categories=sorted(test[c].astype(str).unique()))
        return x

    y_train = (train[TARGET].astype(str) == ">50K").astype(int)
    if y_train.nunique() < 2:
        return float("nan")
    model = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0)
    model.fit(prepare(train), y_train)
    y_test = (test[TARGET].astype(str) == ">50K").astype(int)
    return float(roc_auc_score(y_test, model.predict_proba(prepare(test))[:, 1]))


def score(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame) -> dict:
    real_codes, synth_codes = discretise(train, train, synthetic[train.columns])
    return {
        "tvd1": average_tvd(real_codes, synth_codes, 1),
        "tvd2": average_tvd(real_codes, synth_codes, 2),
        "tvd3": average_tvd(real_codes, synth_codes, 3),
        "auc": tstr_auc(synthetic, holdout),
    }


def run_one(synthesizer: str, epsilon: float, out: Path) -> None:
    """Child process: fit + sample, write the synthetic table and timings."""
    from synthgen.budget import PrivacyBudget
    from synthgen.schema import Schema
    from synthgen.synthesizers import config_by_name, fit

    train, _ = load_split()
    schema = Schema.load(ROOT / "datasets" / "adult.schema.json")
    started = time.perf_counter()
    model = fit(train, schema, config_by_name(synthesizer), PrivacyBudget.from_epsilon(epsilon, DELTA))
    fitted = time.perf_counter()
    fit_peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    synthetic = model.sample(rng=np.random.default_rng(1))
    done = time.perf_counter()
    synthetic.to_parquet(out)
    big = time.perf_counter()
    model.sample(1_000_000, rng=np.random.default_rng(2))
    million = time.perf_counter() - big
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out.with_suffix(".json").write_text(json.dumps({
        "fit_s": fitted - started, "sample_s": done - fitted, "sample_1m_s": million, "peak_mb": peak_mb, "fit_peak_mb": fit_peak_mb,
        "rows": len(synthetic), "rho": model.info["budget"]["rho"],
    }))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epsilons", type=float, nargs="+", default=[0.3, 1.0, 3.0])
    parser.add_argument("--synthesizers", nargs="+", default=["mst", "aim"])
    parser.add_argument("--workdir", type=Path, default=ROOT / "benchmarks" / "out")
    parser.add_argument("--child", nargs=3, metavar=("SYNTH", "EPS", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_one(args.child[0], float(args.child[1]), Path(args.child[2]))
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    train, holdout = load_split()
    print(f"Adult: {len(train)} train / {len(holdout)} holdout rows, delta={DELTA}")
    header = f"{'synthesizer':<12} {'eps':>5} {'fit s':>7} {'sample s':>8} {'1M rows s':>9} {'fit MB':>7} {'peak MB':>8} {'TVD1':>6} {'TVD2':>6} {'TVD3':>6} {'AUC':>6}"
    print(header)
    print("-" * len(header))
    floor = score(train, holdout, holdout)
    print(f"{'holdout':<12} {'-':>5} {'-':>7} {'-':>8} {'-':>9} {'-':>7} {'-':>8} {floor['tvd1']:6.3f} {floor['tvd2']:6.3f} {floor['tvd3']:6.3f} {floor['auc']:6.3f}", flush=True)
    for synthesizer in args.synthesizers:
        for eps in args.epsilons:
            out = args.workdir / f"{synthesizer}_eps{eps:g}.parquet"
            started = time.perf_counter()
            proc = subprocess.run([sys.executable, __file__, "--child", synthesizer, str(eps), str(out)], capture_output=True, text=True)
            if proc.returncode != 0:
                print(f"{synthesizer:<12} {eps:5g} FAILED after {time.perf_counter() - started:.0f}s: {proc.stderr.strip().splitlines()[-1:]}")
                continue
            timing = json.loads(out.with_suffix(".json").read_text())
            s = score(train, holdout, pd.read_parquet(out))
            print(
                f"{synthesizer:<12} {eps:5g} {timing['fit_s']:7.1f} {timing['sample_s']:8.2f} {timing['sample_1m_s']:9.2f} "
                f"{timing['fit_peak_mb']:7.0f} {timing['peak_mb']:8.0f} {s['tvd1']:6.3f} {s['tvd2']:6.3f} {s['tvd3']:6.3f} {s['auc']:6.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
