"""Large and wide tables on one machine (issue 15). Prints one line of figures per stage.

    .venv/bin/python benchmarks/bench_scale.py [--rows 10000000] [--wide-rows 100000]
        [--wide-columns 50] [--stages sample big_mst big_aim wide_mst wide_aim] [--workdir DIR]

The data are made by sampling a model of Adult, so the benchmark can be repeated anywhere:
an MST model is fitted on datasets/adult.csv at ε = 1 (δ = 1e-9) and then

* ``sample``: ``--rows`` synthetic rows are streamed to Parquet (``synthgen sample``'s path);
* ``big_mst``: MST at ε = 1 is fitted on that Parquet file with ``--engine polars`` (out of core);
* ``big_aim``: the same with AIM (not in the default stages; 20-minute limit);
* ``wide_mst`` / ``wide_aim``: a table of ``--wide-rows`` × ``--wide-columns`` is made by putting
  side by side independent samples of the Adult model (columns ``age_1``, ``age_2``, ...), and MST
  and AIM at ε = 1 are fitted on it in memory (``wide_aim`` has a 10-minute limit).

Each stage runs in its own subprocess, so its peak RSS is its own. Seconds are wall time; CPU s is
the stage's user+system time, and load the 1-minute load average at its end.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DELTA = 1e-9
EPSILON = 1.0


def _budget():
    from synthgen.budget import PrivacyBudget

    return PrivacyBudget.from_epsilon(EPSILON, DELTA)


def stage_model(work: Path, args) -> dict:
    from synthgen.io import read_table
    from synthgen.schema import Schema
    from synthgen.synthesizers import MST, fit

    schema = Schema.load(ROOT / "datasets" / "adult.schema.json")
    model = fit(read_table(ROOT / "datasets" / "adult.csv"), schema, MST(), _budget())
    model.save(work / "adult-model.zip")
    return {}


def stage_sample(work: Path, args) -> dict:
    import numpy as np

    from synthgen.model import FittedModel

    model = FittedModel.load(work / "adult-model.zip")
    rows = model.sample_to_parquet(work / "big.parquet", args.rows, rng=np.random.default_rng(0))
    return {"rows": rows, "MB on disk": round((work / "big.parquet").stat().st_size / 2**20, 1)}


def stage_big_mst(work: Path, args) -> dict:
    from synthgen.schema import Schema
    from synthgen.synthesizers import MST, fit_file

    schema = Schema.load(ROOT / "datasets" / "adult.schema.json")
    model = fit_file(work / "big.parquet", schema, MST(), _budget(), engine="polars")
    return {"engine": model.info["engine"], "rho": model.info["budget"]["rho"], "DP rows": round(model.default_rows)}


def _wide_schema(columns: int):
    from dataclasses import replace

    from synthgen.schema import Schema

    base = Schema.load(ROOT / "datasets" / "adult.schema.json")
    cols = []
    k = 0
    while len(cols) < columns:
        k += 1
        cols += [replace(c, name=f"{c.name}_{k}") for c in base.synthesized_columns]
    return replace(base, columns=tuple(cols[:columns]), name="adult-wide")


def stage_make_wide(work: Path, args) -> dict:
    import numpy as np
    import pandas as pd

    from synthgen.model import FittedModel

    model = FittedModel.load(work / "adult-model.zip")
    schema = _wide_schema(args.wide_columns)
    rng = np.random.default_rng(1)
    parts = []
    for k in range(1, -(-args.wide_columns // len(model.schema.synthesized_columns)) + 1):
        part = model.sample(args.wide_rows, rng=rng)
        parts.append(part.rename(columns={c: f"{c}_{k}" for c in part.columns}))
    frame = pd.concat(parts, axis=1)[schema.names]
    frame.to_parquet(work / "wide.parquet", index=False)
    schema.save(work / "wide.schema.json")
    return {"shape": list(frame.shape)}


def _fit_wide(work: Path, config) -> dict:
    from synthgen.io import read_table
    from synthgen.schema import Schema
    from synthgen.synthesizers import fit

    schema = Schema.load(work / "wide.schema.json")
    frame = read_table(work / "wide.parquet")
    model = fit(frame, schema, config, _budget())
    return {"cliques": len(model.info["accounting"]["measured_cliques"]), "rho": model.info["budget"]["rho"]}


def stage_wide_mst(work: Path, args) -> dict:
    from synthgen.synthesizers import MST

    return _fit_wide(work, MST())


def stage_big_aim(work: Path, args) -> dict:
    """AIM at ε = 1 out of core: its workload counted one marginal per scan (SizedAIM)."""
    from synthgen.schema import Schema
    from synthgen.synthesizers import AIM, fit_file

    schema = Schema.load(ROOT / "datasets" / "adult.schema.json")
    model = fit_file(work / "big.parquet", schema, AIM(), _budget(), engine="polars")
    return {"engine": model.info["engine"], "rho": model.info["budget"]["rho"], "DP rows": round(model.default_rows)}


def stage_wide_aim(work: Path, args) -> dict:
    from synthgen.synthesizers import AIM

    return _fit_wide(work, AIM())


STAGES = {
    "model": stage_model, "sample": stage_sample, "big_mst": stage_big_mst, "big_aim": stage_big_aim,
    "make_wide": stage_make_wide, "wide_mst": stage_wide_mst, "wide_aim": stage_wide_aim,
}
TIMEOUTS = {"wide_aim": 600, "big_aim": 1200}


def run_stage(name: str, args) -> None:
    started = time.monotonic()
    extra = STAGES[name](Path(args.workdir), args)
    extra["seconds"] = round(time.monotonic() - started, 1)
    extra["peak MB"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    extra["CPU s"] = round(sum(u.ru_utime + u.ru_stime for u in usage), 1)
    extra["load"] = round(os.getloadavg()[0], 1)
    print(json.dumps(extra))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--wide-rows", type=int, default=100_000)
    parser.add_argument("--wide-columns", type=int, default=50)
    parser.add_argument("--stages", nargs="+", default=["sample", "big_mst", "wide_mst", "wide_aim"])
    parser.add_argument("--workdir", default="/tmp/synthgen-bench-scale")
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        run_stage(args.stage, args)
        return
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    needed = ["model"] if not (work / "adult-model.zip").exists() else []
    if any(s.startswith("wide") for s in args.stages) and not (work / "wide.parquet").exists():
        needed.append("make_wide")
    if {"big_mst", "big_aim"} & set(args.stages) and "sample" not in args.stages and not (work / "big.parquet").exists():
        needed.append("sample")
    for name in needed + args.stages:
        cmd = [sys.executable, __file__, "--stage", name, "--workdir", str(work), "--rows", str(args.rows),
               "--wide-rows", str(args.wide_rows), "--wide-columns", str(args.wide_columns)]
        started = time.monotonic()
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUTS.get(name))
        except subprocess.TimeoutExpired:
            print(f"{name:10s} stopped after {TIMEOUTS[name]} s", flush=True)
            continue
        if done.returncode != 0:
            print(f"{name:10s} FAILED after {time.monotonic() - started:.0f} s: {done.stderr.strip().splitlines()[-1:]}", flush=True)
            continue
        print(f"{name:10s} {done.stdout.strip().splitlines()[-1]}", flush=True)


if __name__ == "__main__":
    main()
