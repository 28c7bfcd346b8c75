"""Fixtures of the platform-layer suite: every DB-backed test runs on SQLite and PostgreSQL.

PostgreSQL: ``SYNTHGEN_TEST_POSTGRES_URL`` (default postgresql+psycopg://postgres@127.0.0.1:5432/test).
Each test gets its own schema (``CREATE SCHEMA test_<random>``, selected through the
connection's ``search_path``) dropped afterwards. When the server is unreachable the postgres
tests are skipped, unless ``SYNTHGEN_REQUIRE_POSTGRES=1`` (CI), which makes them fail.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path
from urllib.parse import quote

import pytest

os.environ.setdefault("SYNTHGEN_FAST_HASH", "1")

PG_URL = os.environ.get("SYNTHGEN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REPO = Path(__file__).resolve().parents[2]
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]

_pg_state: dict[str, object] = {}


def _pg_available() -> str | None:
    """None when reachable, else the reason."""
    if "reason" not in _pg_state:
        from sqlalchemy import create_engine, text

        try:
            eng = create_engine(PG_URL)
            with eng.connect() as conn:
                conn.execute(text("SELECT 1"))
            eng.dispose()
            _pg_state["reason"] = None
        except Exception as exc:  # noqa: BLE001 - any connection problem
            _pg_state["reason"] = f"PostgreSQL at {PG_URL} unreachable: {exc.__class__.__name__}"
    return _pg_state["reason"]  # type: ignore[return-value]


def _with_search_path(url: str, schema: str) -> str:
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options={quote(f'-csearch_path={schema}')}"


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path):
    """A fresh, empty database URL on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'db' / 'synthgen.db'}"
        return
    reason = _pg_available()
    if reason is not None:
        if os.environ.get("SYNTHGEN_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason + " and SYNTHGEN_REQUIRE_POSTGRES=1")
        pytest.skip(reason)
    from sqlalchemy import create_engine

    schema = f"test_{secrets.token_hex(6)}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield _with_search_path(PG_URL, schema)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture
def backend(db_url) -> str:
    return "sqlite" if db_url.startswith("sqlite") else "postgres"


@pytest.fixture
def settings(db_url, tmp_path):
    from app.core.config import Settings

    (tmp_path / "db").mkdir(exist_ok=True)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    if db_url.startswith("sqlite"):
        # the embedded default keeps its database in the data directory
        db_url = f"sqlite:///{data_dir / 'synthgen.db'}"
    return Settings(data_dir=data_dir, database_url=db_url, key_dir=tmp_path / "keys", create_keys=True)


@pytest.fixture
def platform(settings):
    from app.core.services import Platform

    p = Platform.open(settings)
    try:
        yield p
    finally:
        p.close()


@pytest.fixture
def engine(db_url):
    """A migrated engine (for the ledger/store/jobs unit tests)."""
    from app.core.migrations import upgrade
    from app.core.store import make_engine

    eng = make_engine(db_url)
    upgrade(eng)
    try:
        yield eng
    finally:
        eng.dispose()


def random_key_b64() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()
