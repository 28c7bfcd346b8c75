"""``synthgen evaluate`` as the README runs it: the model file carries its DP accounting, and bad
input is one line naming the argument, exit 2, nothing written."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from app.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    df = pd.read_csv(ROOT / "datasets" / "pums_1000.csv")
    perm = np.random.default_rng(0).permutation(len(df))
    df.iloc[perm[:700]].to_csv(d / "train.csv", index=False)
    df.iloc[perm[700:]].to_csv(d / "control.csv", index=False)
    (d / "schema.json").write_text((ROOT / "datasets" / "pums_1000.schema.json").read_text())
    return d


def _run(d: Path, *args: str) -> int:
    return main([str(a) for a in args])


def test_readme_path_reads_the_accounting_from_the_model(files, capsys):
    d = files
    assert _run(d, "fit", d / "train.csv", "--schema", d / "schema.json", "--synthesizer", "mst", "--epsilon", "1",
                "--delta", "1e-9", "-o", d / "model.zip") == 0
    assert _run(d, "sample", d / "model.zip", "--seed", "1", "-o", d / "synthetic.csv") == 0
    capsys.readouterr()
    assert _run(d, "evaluate", "--real", d / "train.csv", "--synthetic", d / "synthetic.csv", "--control", d / "control.csv",
                "--schema", d / "schema.json", "--model", d / "model.zip", "--target", "married", "--attacks", "200",
                "--budget-epsilon", "3", "--no-progress", "-o", d / "report.json") == 0
    out = capsys.readouterr().out
    report = json.loads((d / "report.json").read_text())
    assert out.startswith(report["overall_verdict"] + ": report written to")
    p = report["privacy"]
    assert p["mechanism"] == "mst" and p["delta"] == 1e-9 and p["total_epsilon"] == 3
    assert p["epsilon"] == pytest.approx(1.0, rel=1e-6)  # ρ consumed, stated back as ε at the fit's δ
    eps = next(m for m in report["metrics"] if m["name"] == "epsilon")
    assert eps["verdict"] == "pass"
    # the ML-team card of the same release: the verdicts, no statistic of the real table
    assert _run(d, "evaluate", "--real", d / "train.csv", "--synthetic", d / "synthetic.csv", "--control", d / "control.csv",
                "--schema", d / "schema.json", "--model", d / "model.zip", "--target", "married", "--attacks", "200",
                "--audience", "ml_team", "--no-progress", "-o", d / "card_ml.html") == 0
    html = (d / "card_ml.html").read_text()
    text = re.sub(r"<[^>]+>", " ", re.sub(r"<style.*?</style>", "", html, flags=re.S))
    assert "ML team" in text and "Column distributions" not in text
    # (the synthetic row count, the DP estimate of 700, is the release's own fact and may be shown)
    numbers = set(re.findall(r"\d[\d,]*", text)) - {str(report["inputs"]["synthetic"]["rows"])}
    assert "700" not in numbers and "300" not in numbers  # the real training and control row counts


def test_evaluate_judges_on_the_target_the_model_was_fitted_towards(files, capsys):
    d = files
    assert _run(d, "fit", d / "train.csv", "--schema", d / "schema.json", "--target", "married", "--epsilon", "1",
                "-o", d / "aim.zip") == 0
    assert _run(d, "sample", d / "aim.zip", "--seed", "1", "-o", d / "aim.csv") == 0
    capsys.readouterr()
    assert _run(d, "evaluate", "--real", d / "train.csv", "--synthetic", d / "aim.csv", "--control", d / "control.csv",
                "--schema", d / "schema.json", "--model", d / "aim.zip", "--attacks", "100", "--no-progress",
                "-o", d / "aim.json") == 0
    assert "--target married (the column the model was fitted towards)" in capsys.readouterr().err
    report = json.loads((d / "aim.json").read_text())
    assert report["inputs"]["target"] == "married"
    assert any(m["name"] == "tstr_auc_skill_ratio" for m in report["metrics"])


@pytest.mark.parametrize("extra, message", [
    (["--model", "missing.zip"], "--model ('missing.zip') must be a model file written by 'synthgen fit'"),
    (["--model", "x.zip", "--privacy", "p.json"], "give either --model or --privacy, not both (both state the DP accounting)"),
    (["--delta", "1e-9"], "--delta is only used with --model"),
    (["--budget-epsilon", "-1"], "--budget-epsilon (-1.0) must be a positive number"),
])
def test_bad_arguments_exit_2_with_one_line_and_write_nothing(files, capsys, extra, message, monkeypatch):
    d = files
    monkeypatch.chdir(d)
    out = d / "never.html"
    code = _run(d, "evaluate", "--real", "train.csv", "--synthetic", "control.csv", "--control", "control.csv",
                "--schema", "schema.json", *extra, "--no-progress", "-o", out)
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err == f"error: {message}"
    assert not out.exists()
