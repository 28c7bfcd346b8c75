"""Shared helpers of the HTTP API / CLI tests: a populated platform and a live server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

from app.core import jobs
from app.core.config import Settings
from app.core.jobs import JobInput, JobOutput
from app.core.services import Actor, Platform

REPO = Path(__file__).resolve().parents[2]
TITANIC_CSV = REPO / "datasets" / "titanic.csv"
TITANIC_SCHEMA = REPO / "datasets" / "titanic.schema.json"
PASSWORD = "correct horse battery staple 42"
PY = sys.executable


def make_env(tmp: Path) -> dict[str, str]:
    """Environment of a throw-away installation under ``tmp`` (SQLite, generated keys)."""
    data = tmp / "data"
    keys = tmp / "keys"
    return {"SYNTHGEN_DATA_DIR": str(data), "SYNTHGEN_KEY_DIR": str(keys), "SYNTHGEN_CREATE_KEYS": "1",
            "SYNTHGEN_FAST_HASH": "1"}


def open_platform(env: dict[str, str]) -> Platform:
    return Platform.open(Settings.from_env(env))


def table_pipeline(synthetic: pd.DataFrame, verdict: str = "pass"):
    """A stand-in for fit → sample → evaluate that outputs ``synthetic`` (no private value)."""

    def run(inp: JobInput) -> JobOutput:
        return JobOutput(synthetic=synthetic, verdict=verdict, report={"verdict": verdict},
                         card_full_html="<html>full card</html>",
                         card_ml_html=f"<html>ML card of release {inp.release_id}</html>",
                         model_info={"dp": inp.dp, "synthesizer": inp.synthesizer,
                                     "versions": {"synthgen": "test"}, "schema_fingerprint": "f"})

    return run


def small_table(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"Survived": rng.integers(0, 2, n), "Pclass": rng.integers(1, 4, n),
                         "Sex": rng.choice(["male", "female"], n), "Age": rng.uniform(1, 80, n).round(1)})


def big_table(target_csv_bytes: int = 100 * 1024 * 1024, seed: int = 1) -> pd.DataFrame:
    """A synthetic-looking table whose CSV is about ``target_csv_bytes``."""
    rng = np.random.default_rng(seed)
    n = target_csv_bytes // 33  # ~33 bytes a row below
    return pd.DataFrame({"id": np.arange(n, dtype=np.int64), "Pclass": rng.integers(1, 4, n),
                         "Fare": rng.integers(0, 10**9, n), "Age": rng.integers(10**6, 10**7, n),
                         "Sex": np.where(rng.integers(0, 2, n) == 1, "male", "femal")})


@dataclass
class World:
    env: dict[str, str]
    users: dict[str, Actor] = field(default_factory=dict)
    approved: int = 0  # approved release of dataset "titanic", ml is a member
    published: int = 0
    unapproved: int = 0  # evaluated, waiting for approval
    revoked: int = 0
    other_dataset: int = 0  # approved release of dataset "other" (ml is not a member)


def populate(env: dict[str, str], *, synthetic: pd.DataFrame | None = None) -> World:
    """admin, owner, officer, ml (ml_engineer), ml2 (ml_engineer, not a member of 'other');
    releases in every interesting state. ``synthetic`` is the table of the approved release."""
    world = World(env=env)
    p = open_platform(env)
    try:
        p.create_first_admin("admin", PASSWORD)
        admin = p.login("admin", PASSWORD).actor
        for name, role in [("owner", "data_owner"), ("officer", "privacy_officer"), ("ml", "ml_engineer"),
                           ("ml2", "ml_engineer")]:
            p.create_user(admin, name, PASSWORD, role)
        users = {n: p.login(n, PASSWORD).actor for n in ("admin", "owner", "officer", "ml", "ml2")}
        world.users = users
        schema = TITANIC_SCHEMA.read_text()
        csv = TITANIC_CSV.read_bytes()
        ds = p.upload_dataset(users["owner"], "titanic.csv", csv, name="titanic", classification="public", budget_epsilon=20.0, delta=1e-6,
                              schema_json=schema)
        other = p.upload_dataset(users["owner"], "titanic.csv", csv, name="other", classification="public", budget_epsilon=20.0, delta=1e-6,
                                 schema_json=schema)
        for who in ("officer", "ml", "ml2"):
            p.add_member(admin, ds.id, users[who].user_id)
        p.add_member(admin, other.id, users["officer"].user_id)
        p.add_member(admin, other.id, users["ml"].user_id)

        def release(dataset_id: int, table: pd.DataFrame) -> int:
            rel = p.request_release(users["owner"], dataset_id, synthesizer="mst", epsilon=1.0)
            assert jobs.run_one(p, table_pipeline(table)) == "succeeded"
            return rel.id

        small = small_table()
        world.approved = release(ds.id, synthetic if synthetic is not None else small)
        p.approve(users["officer"], world.approved, "gate passed")
        world.published = release(ds.id, small)
        p.approve(users["officer"], world.published, "gate passed")
        p.publish(users["officer"], world.published)
        world.unapproved = release(ds.id, small)
        world.revoked = release(ds.id, small)
        p.approve(users["officer"], world.revoked, "gate passed")
        p.revoke(users["owner"], world.revoked, "found a problem")
        world.other_dataset = release(other.id, small)
        p.approve(users["officer"], world.other_dataset, "gate passed")
    finally:
        p.close()
    return world


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """``python -m app.api`` in a subprocess on a free localhost port."""

    def __init__(self, env: dict[str, str], log_path: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = {**os.environ, **env, "SYNTHGEN_API_HOST": "127.0.0.1", "SYNTHGEN_API_PORT": str(self.port),
                    "PYTHONWARNINGS": "ignore"}
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen([PY, "-m", "app.api"], env=full_env, cwd=REPO, stdout=self._log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"API server exited with {self.proc.returncode}: {Path(log_path).read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("API server did not start within 60 s")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def create_token(env: dict[str, str], username: str, ttl_days: float = 30) -> str:
    from datetime import timedelta

    p = open_platform(env)
    try:
        actor = p.login(username, PASSWORD).actor
        return p.create_api_token(actor, timedelta(days=ttl_days)).token
    finally:
        p.close()
