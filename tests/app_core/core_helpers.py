"""Shared helpers of the platform-layer tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from app.core.jobs import JobInput, JobOutput
from app.core.services import Actor, Platform

REPO = Path(__file__).resolve().parents[2]
TITANIC_CSV = REPO / "datasets" / "titanic.csv"
TITANIC_SCHEMA = REPO / "datasets" / "titanic.schema.json"
PASSWORD = "correct horse battery staple 42"


@dataclass
class Team:
    admin: Actor
    owner: Actor
    officer: Actor
    officer2: Actor
    ml: Actor
    outsider: Actor  # a data owner who is not a member of the dataset


def make_team(platform: Platform) -> Team:
    platform.create_first_admin("admin", PASSWORD)
    admin = platform.login("admin", PASSWORD).actor
    actors = {}
    for name, role in [("owner", "data_owner"), ("officer", "privacy_officer"), ("officer2", "privacy_officer"),
                       ("ml", "ml_engineer"), ("outsider", "data_owner")]:
        platform.create_user(admin, name, PASSWORD, role)
        actors[name] = platform.login(name, PASSWORD).actor
    return Team(admin=admin, **actors)


def upload_titanic(platform: Platform, team: Team, *, epsilon: float = 5.0, members: bool = True, data: bytes | None = None,
                   name: str = "titanic", classification: str = "public"):
    ds = platform.upload_dataset(team.owner, "titanic.csv", data if data is not None else TITANIC_CSV.read_bytes(),
                                 name=name, classification=classification, budget_epsilon=epsilon, delta=1e-6,
                                 schema_json=TITANIC_SCHEMA.read_text())
    if members:
        for a in (team.officer, team.officer2, team.ml):
            platform.add_member(team.admin, ds.id, a.user_id)
    return ds


def tiny_pipeline(verdict: str = "pass"):
    """A deterministic stand-in for fit → sample → evaluate: no private value reaches the output."""

    def run(inp: JobInput) -> JobOutput:
        inp.progress(0.5, "tiny fit")
        n = inp.rows or 50
        synthetic = pd.DataFrame({c: ["x"] * n for c in inp.train.columns})
        report = {"verdict": verdict, "metrics": {"tvd_1way_mean": 0.01}}
        return JobOutput(synthetic=synthetic, verdict=verdict, report=report,
                         card_full_html="<html>full card</html>", card_ml_html="<html>ml card</html>",
                         model_info={"dp": inp.dp, "synthesizer": inp.synthesizer,
                                     "versions": {"synthgen": "test"}, "schema_fingerprint": "f"})

    return run


SMALL_COLUMNS = ("Survived", "Pclass", "Sex", "Embarked", "SibSp")


def small_titanic() -> tuple[bytes, str]:
    """Titanic reduced to a few public-schema columns: a real MST fit takes seconds."""
    import io
    import json

    frame = pd.read_csv(TITANIC_CSV)[list(SMALL_COLUMNS)]
    schema = json.loads(TITANIC_SCHEMA.read_text())
    schema["columns"] = [c for c in schema["columns"] if c["name"] in SMALL_COLUMNS]
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    return buf.getvalue().encode(), json.dumps(schema)


def random_key_b64() -> str:
    import base64
    import secrets

    return base64.b64encode(secrets.token_bytes(32)).decode()
