"""Shared helpers of the dashboard tests: a populated platform and signed-in AppTests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from app.core import jobs
from app.core.jobs import JobInput, JobOutput
from app.core.services import Actor, Platform

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "app" / "ui" / "streamlit_app.py"
TITANIC_CSV = REPO / "datasets" / "titanic.csv"
TITANIC_SCHEMA = REPO / "datasets" / "titanic.schema.json"
PASSWORD = "correct horse battery staple 42"
PAGE_FILES = {name: f"app_pages/{name}.py" for name in
              ("datasets", "new_release", "review", "releases", "audit", "alerts", "admin", "account")}


@dataclass
class Team:
    admin: Actor
    owner: Actor
    officer: Actor
    ml: Actor
    outsider: Actor  # a data owner who is a member of nothing of the others'


def make_team(platform: Platform) -> Team:
    platform.create_first_admin("admin", PASSWORD)
    admin = platform.login("admin", PASSWORD).actor
    actors = {}
    for name, role in [("owner", "data_owner"), ("officer", "privacy_officer"), ("ml", "ml_engineer"),
                       ("outsider", "data_owner")]:
        platform.create_user(admin, name, PASSWORD, role)
        actors[name] = platform.login(name, PASSWORD).actor
    return Team(admin=admin, **actors)


def upload_titanic(platform: Platform, team: Team, *, name: str = "titanic", owner: Actor | None = None,
                   members: bool = True):
    ds = platform.upload_dataset(owner or team.owner, "titanic.csv", TITANIC_CSV.read_bytes(), name=name,
                                 classification="public", budget_epsilon=10.0, delta=1e-6, schema_json=TITANIC_SCHEMA.read_text())
    if members:
        for a in (team.officer, team.ml):
            platform.add_member(team.admin, ds.id, a.user_id)
    return ds


def tiny_pipeline(verdict: str = "pass"):
    """Stand-in for fit → sample → evaluate (fast, no private value in the output)."""

    def run(inp: JobInput) -> JobOutput:
        inp.progress(0.5, "tiny fit")
        n = inp.rows or 30
        synthetic = pd.DataFrame({c: ["x"] * n for c in inp.train.columns})
        report = {"overall_verdict": verdict, "metrics": [
            {"name": "singling_out_risk", "group": "risk", "value": 0.01, "interval": [0.0, 0.03],
             "threshold": 0.1, "verdict": verdict, "description": "attack success above baseline"},
            {"name": "tvd_1way_mean", "group": "utility", "value": 0.02, "interval": None, "threshold": 0.1,
             "verdict": "pass", "description": "mean total variation distance of 1-way marginals"}]}
        return JobOutput(synthetic=synthetic, verdict=verdict, report=report,
                         card_full_html="<html><body><h1>Full card</h1></body></html>",
                         card_ml_html="<html><body><h1>ML card</h1></body></html>",
                         model_info={"dp": inp.dp, "synthesizer": inp.synthesizer,
                                     "versions": {"synthgen": "test"}, "schema_fingerprint": "f"})

    return run


def evaluated_release(platform: Platform, team: Team, ds_id: int, *, epsilon: float = 0.5, verdict: str = "pass",
                      requester: Actor | None = None):
    rel = platform.request_release(requester or team.owner, ds_id, synthesizer="mst", epsilon=epsilon)
    assert jobs.run_one(platform, tiny_pipeline(verdict)) is not None
    return platform.get_release(requester or team.owner, rel.id)


def app_test(platform: Platform, username: str | None, *, timeout: float = 30):
    """An AppTest of the dashboard, signed in as ``username`` (or not signed in)."""
    from streamlit.testing.v1 import AppTest

    from app.ui.state import TOKEN_KEY

    at = AppTest.from_file(str(APP), default_timeout=timeout)
    if username is not None:
        at.session_state[TOKEN_KEY] = platform.login(username, PASSWORD).token
    return at


def open_page(platform: Platform, username: str | None, page: str):
    """An AppTest signed in as ``username``, switched to ``page`` (a key of PAGE_FILES) and run;
    fails on any exception the page raised."""
    at = app_test(platform, username)
    at.run()
    at.switch_page(PAGE_FILES[page]).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at) -> str:
    """All visible text of a run (markdown, titles, captions, alerts, metrics), for assertions."""
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success",
                 "text", "code"):
        for el in getattr(at, kind, []):
            parts.append(str(getattr(el, "value", "")))
    for df in at.dataframe:
        parts.append(df.value.to_string())
    for m in at.metric:
        parts.append(f"{m.label} {m.value}")
    for el in at.sidebar.markdown:
        parts.append(str(el.value))
    return "\n".join(parts)


def schema_dict() -> dict:
    return json.loads(TITANIC_SCHEMA.read_text())
