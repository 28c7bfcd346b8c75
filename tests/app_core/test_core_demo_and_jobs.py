"""First-start bootstrap, the worker loop, a killed worker, and one real MST fit."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from app.core import jobs
from app.core.demo import bootstrap
from app.core.worker import run_worker
from core_helpers import PASSWORD, make_team, small_titanic, tiny_pipeline, upload_titanic


def test_bootstrap_admin_and_demo(platform, monkeypatch):
    monkeypatch.delenv("SYNTHGEN_ADMIN_PASSWORD", raising=False)
    result = bootstrap(platform, load_demo=True)
    assert result.created_admin and result.admin_password
    assert set(result.demo_passwords) == {"alice", "oscar", "mia"}
    admin = platform.login("admin", result.admin_password).actor
    [ds] = platform.list_datasets(admin)
    assert ds.id == result.demo_dataset_id and set(ds.members) == {"alice", "oscar", "mia"}
    again = bootstrap(platform, load_demo=True, admin_password=result.admin_password)
    assert not again.created_admin and again.demo_dataset_id is None
    assert len(platform.list_datasets(admin)) == 1


def test_worker_runs_queue_and_reports_progress(platform):
    team = make_team(platform)
    ds = upload_titanic(platform, team)
    ids = [platform.request_release(team.owner, ds.id, synthesizer="mst", epsilon=0.3).id for _ in range(2)]
    assert run_worker(platform.settings, once=True, pipeline=tiny_pipeline(), platform=platform) == 2
    for rid in ids:
        rel = platform.get_release(team.owner, rid)
        assert rel.state == "evaluated" and rel.job.state == "succeeded" and rel.job.progress == 1.0


def test_failing_pipeline_fails_job_keeps_budget_and_is_retryable(platform):
    team = make_team(platform)
    ds = upload_titanic(platform, team)
    rel = platform.request_release(team.owner, ds.id, synthesizer="mst", epsilon=0.3)

    def boom(inp):
        raise ValueError("private value Braund must not leak")

    assert jobs.run_one(platform, boom) == "failed"
    info = platform.get_release(team.owner, rel.id)
    assert info.state == "failed" and info.job.error == "ValueError"
    assert platform.budget_summary(team.owner, ds.id).spent.rho == pytest.approx(rel.rho)
    assert all("Braund" not in json.dumps(e.details) for e in platform.audit_log(team.admin))
    platform.retry_release(team.owner, rel.id)
    assert platform.budget_summary(team.owner, ds.id).reserved.rho == pytest.approx(rel.rho)  # charged again
    assert jobs.run_one(platform, tiny_pipeline()) == "succeeded"


SLOW_WORKER = r"""
import sys, time
sys.path.insert(0, sys.argv[1])
from app.core.config import Settings
from app.core.worker import run_worker
def slow(inp):
    inp.progress(0.3, "working")
    time.sleep(600)
run_worker(Settings.from_env(), once=True, pipeline=slow)
"""


def test_worker_killed_mid_job_is_requeued_and_charged_once(platform, settings):
    team = make_team(platform)
    ds = upload_titanic(platform, team)
    rel = platform.request_release(team.owner, ds.id, synthesizer="mst", epsilon=0.3)
    env = {**os.environ, **settings.to_env()}
    proc = subprocess.Popen([sys.executable, "-c", SLOW_WORKER, os.path.dirname(__file__)], env=env)
    try:
        deadline = time.monotonic() + 60
        while platform.get_release(team.owner, rel.id).state != "running":
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert jobs.recover_stale(platform) != []
    info = platform.get_release(team.owner, rel.id)
    assert info.state == "draft" and info.job.state == "queued" and "worker lost" in info.job.message
    summary = platform.budget_summary(team.owner, ds.id)
    assert summary.spent.rho == pytest.approx(rel.rho) and summary.reserved.rho == 0
    assert info.artifacts == {}
    assert platform.check_integrity() == []
    # the next worker resumes the same job; the ledger is not charged a second time
    assert jobs.run_one(platform, tiny_pipeline()) == "succeeded"
    info = platform.get_release(team.owner, rel.id)
    assert info.state == "evaluated"
    summary = platform.budget_summary(team.owner, ds.id)
    assert summary.spent.rho == pytest.approx(rel.rho) and summary.reserved.rho == 0
    assert platform.verify_audit_chain().ok


@contextlib.contextmanager
def real_pipeline_platform(tmp_path):
    """A platform on embedded SQLite that runs the real pipeline (100 attacks), with a team and
    the small Titanic table uploaded; the officer and the ML engineer are members. Yields
    (platform, team, dataset). Backend-independent, so these tests run once to keep the suite short."""
    from app.core.config import Settings
    from app.core.services import Platform

    data_dir = tmp_path / "data"
    p = Platform.open(Settings(data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'synthgen.db'}",
                               key_dir=tmp_path / "keys", eval_n_attacks=100))
    try:
        team = make_team(p)
        data, schema = small_titanic()
        ds = p.upload_dataset(team.owner, "t.csv", data, name="t", classification="internal", budget_epsilon=5.0, delta=1e-6,
                             schema_json=schema)
        for a in (team.officer, team.ml):
            p.add_member(team.admin, ds.id, a.user_id)
        yield p, team, ds
    finally:
        p.close()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_real_mst_fit_and_evaluation(tmp_path):
    with real_pipeline_platform(tmp_path) as (p, team, ds):
        rel = p.request_release(team.owner, ds.id, synthesizer="mst", epsilon=1.0, target="Survived",
                                config={"estimation_iters": 50}, policy={"allow_override": True})
        assert jobs.run_one(p) == "succeeded"
        rel = p.get_release(team.owner, rel.id)
        assert rel.state == "evaluated" and rel.verdict in ("pass", "fail", "inconclusive")
        report = p.get_risk_report(team.officer, rel.id)
        assert report["overall_verdict"] == rel.verdict
        assert "timings" not in report  # durations grow with the table: logs only, never an artefact
        assert "<html" in p.get_release_card(team.officer, rel.id, "full").lower()
        label = "internal (max ε 10; one privacy officer approves; published for 180 days)"
        for audience in ("full", "ml"):  # the dataset's classification is one of the card's facts
            assert label in p.get_release_card(team.officer, rel.id, audience)
        p.approve(team.officer, rel.id, "reviewed", override=rel.verdict != "pass")
        manifest = p.manifest(team.ml, rel.id)
        assert set(manifest["files"]) == {"synthetic.csv", "synthetic.parquet", "release_card.html"}
        assert manifest["privacy"]["epsilon"] == 1.0 and manifest["approval"]["approver"] == "officer"
        assert manifest["classification"] == "internal"
        # the card's privacy summary is built from the rho OpenDP consumed (at most the rho charged)
        consumed = manifest["synthesizer"]["model"]["budget"]["rho"]
        assert report["privacy"]["rho"] == consumed <= rel.rho
        assert report["privacy"]["epsilon"] <= 1.0 and report["privacy"]["mechanism"] == "mst"
        assert manifest["library_versions"]
        assert manifest["synthesizer"]["engine"] == "memory"  # where the private rows were counted
        assert not re.search(r'"[a-z_]*(seconds|duration|elapsed|timings)"', json.dumps(manifest))
        assert "fitted_on" in manifest["synthesizer"]["model"]
        csv = p.download(team.ml, rel.id, "csv")
        assert csv.sha256 == manifest["files"]["synthetic.csv"]["sha256"]
        assert set(csv.data.splitlines()[0].decode().split(",")) == {"Survived", "Pclass", "Sex", "Embarked", "SibSp"}


def test_real_aim_release_is_fitted_towards_its_target(tmp_path):
    """The dashboard's target column reaches OpenDP: the worker fits AIM with the target's pairs
    weighted, the model records it, and both cards say so (a column name is public)."""
    with real_pipeline_platform(tmp_path) as (p, team, ds):
        rel = p.request_release(team.owner, ds.id, synthesizer="aim", epsilon=1.0, target="Survived",
                                config={"rounds": 4, "estimation_iters": 30, "max_model_mb": 2.0},
                                policy={"allow_override": True})
        assert jobs.run_one(p) == "succeeded"
        rel = p.get_release(team.owner, rel.id)
        assert rel.state == "evaluated" and rel.config["target"] == "Survived"
        for audience in ("full", "ml"):
            card = p.get_release_card(team.officer, rel.id, audience)
            assert "AIM weighted towards" in card and "Survived" in card
        p.approve(team.officer, rel.id, "reviewed", override=rel.verdict != "pass")
        manifest = p.manifest(team.owner, rel.id)
        assert manifest["synthesizer"]["model"]["config"]["target"] == "Survived"
