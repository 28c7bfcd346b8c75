"""``make run``: the main job on the embedded default.

Starts the platform (SQLite and local files under ``SYNTHGEN_DATA_DIR``): the database, the job
worker, the HTTP API and the dashboard, with the shipped Adult dataset loaded as a demo. With
``--pipeline`` runs the command-line pipeline on Adult instead: fit MST at ε = 1, sample,
evaluate against a held-out control set and write the release card.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def pipeline(out_dir: Path, epsilon: float = 1.0, delta: float = 1e-9) -> Path:
    from synthgen.budget import PrivacyBudget
    from synthgen.io import read_table, write_table
    from synthgen.schema import Schema
    from synthgen.synthesizers import MST, fit

    out_dir.mkdir(parents=True, exist_ok=True)
    frame = read_table(ROOT / "datasets" / "adult.csv")
    schema = Schema.load(ROOT / "datasets" / "adult.schema.json")
    # the control set is held out before fitting, so the risk evaluation has unseen real rows
    order = np.random.default_rng(0).permutation(len(frame))
    cut = int(0.7 * len(frame))
    train, control = frame.iloc[order[:cut]], frame.iloc[order[cut:]]
    budget = PrivacyBudget.from_epsilon(epsilon, delta)
    print(f"fitting MST on Adult under {budget.describe(delta)} ...", flush=True)
    model = fit(train, schema, MST(), budget, progress=lambda f, m: print(f"  {f:4.0%} {m}", flush=True))
    model.save(out_dir / "adult-mst.zip")
    synthetic = model.sample(rng=np.random.default_rng())
    write_table(synthetic, out_dir / "adult-synthetic.csv")
    print(f"wrote {len(synthetic):,} synthetic rows to {out_dir / 'adult-synthetic.csv'}", flush=True)
    from evaluation import evaluate
    from evaluation.card import render_html

    report = evaluate(
        train, synthetic, control, schema, rng=np.random.default_rng(0), target="income",
        privacy=model.privacy_summary(delta),
        progress=lambda f, m: print(f"  evaluation {f:4.0%} {m}", flush=True),
    )
    card = out_dir / "adult-release-card.html"
    card.write_text(render_html(report, audience="full"), encoding="utf-8")
    print(f"verdict: {report.overall_verdict}; release card: {card}", flush=True)
    return out_dir


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--pipeline" not in argv:
        from app.launcher import main as launch

        return int(launch(argv) or 0)
    else:
        argv.remove("--pipeline")
    pipeline(Path(argv[0]) if argv else Path("synthgen-data") / "demo")
    return 0


if __name__ == "__main__":
    sys.exit(main())
