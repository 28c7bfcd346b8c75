from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from app.core.migrations import current_revision, head_revision, upgrade
from app.core.store import Base, integrity_check, make_engine, sqlite_pragmas


def test_fresh_database_is_at_head_and_matches_models(engine):
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    assert integrity_check(engine) == []


def test_upgrade_is_idempotent(engine):
    upgrade(engine)
    assert current_revision(engine) == head_revision()


def test_sqlite_pragmas_on_every_connection(tmp_path):
    eng = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        for _ in range(3):
            assert sqlite_pragmas(eng) == {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1}
    finally:
        eng.dispose()


def test_sqlite_foreign_keys_are_enforced(tmp_path):
    import pytest
    from sqlalchemy.exc import IntegrityError

    from app.core.store import Membership, session_factory, transaction

    eng = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    upgrade(eng)
    with pytest.raises(IntegrityError):
        with transaction(session_factory(eng)) as s:
            s.add(Membership(dataset_id=999, user_id=999))
    eng.dispose()


def _insert_user_u(conn) -> None:
    """User 'u' as a raw row: the migration tests write at old revisions, where the ORM's
    current models do not fit the tables (the columns below exist from 0001 on)."""
    from sqlalchemy import text

    conn.execute(text("INSERT INTO users (username, role, disabled, failed_attempts, created_at) "
                      "VALUES ('u', 'data_owner', false, 0, CURRENT_TIMESTAMP)"))


def test_upgrade_from_0001_keeps_rows_and_downgrade_returns_to_it(db_url):
    """A database with data at the first release's schema upgrades to head (new columns get
    their defaults) and downgrades back without tripping SQLite's foreign keys."""
    from alembic import command
    from sqlalchemy import text

    from app.core.migrations import alembic_config

    eng = make_engine(db_url)
    try:
        upgrade(eng, "0001")
        with eng.begin() as c:
            _insert_user_u(c)
            uid = c.execute(text("SELECT id FROM users WHERE username = 'u'")).scalar_one()
            c.execute(text("INSERT INTO datasets (name, owner_id, columns_json, budget_rho_total, delta, storage_dir, "
                           "split_seed, created_at) VALUES ('d', :u, '[]', 1.0, 1e-9, 'x', 1, CURRENT_TIMESTAMP)"),
                      {"u": uid})
            did = c.execute(text("SELECT id FROM datasets WHERE name = 'd'")).scalar_one()
            c.execute(text("INSERT INTO ledger_entries (dataset_id, rho, state, created_at) "
                           "VALUES (:d, 0.1, 'spent', CURRENT_TIMESTAMP)"), {"d": did})
        upgrade(eng)
        assert current_revision(eng) == head_revision()
        with eng.connect() as c:
            assert c.execute(text("SELECT rho, extra_delta FROM ledger_entries")).all() == [(0.1, 0.0)]
            assert c.execute(text("SELECT schema_draft_json FROM datasets")).all() == [(None,)]
        command.downgrade(alembic_config(eng), "0001")
        assert current_revision(eng) == "0001"
        with eng.connect() as c:
            assert c.execute(text("SELECT rho FROM ledger_entries")).all() == [(0.1,)]
        upgrade(eng)
        assert current_revision(eng) == head_revision()
    finally:
        eng.dispose()


def test_upgrade_from_0003_labels_existing_datasets_restricted(db_url):
    """0004 gives every dataset that existed before labels the most sensitive label, keeps the
    releases' rows, and downgrades back."""
    from alembic import command
    from sqlalchemy import text

    from app.core.migrations import alembic_config

    eng = make_engine(db_url)
    try:
        upgrade(eng, "0003")
        with eng.begin() as c:
            _insert_user_u(c)
            uid = c.execute(text("SELECT id FROM users WHERE username = 'u'")).scalar_one()
            c.execute(text("INSERT INTO datasets (name, owner_id, columns_json, budget_rho_total, delta, storage_dir, "
                           "split_seed, created_at) VALUES ('d', :u, '[]', 1.0, 1e-9, 'x', 1, CURRENT_TIMESTAMP)"),
                      {"u": uid})
            did = c.execute(text("SELECT id FROM datasets WHERE name = 'd'")).scalar_one()
            c.execute(text("INSERT INTO releases (dataset_id, requester_id, state, synthesizer, config_json, schema_json, "
                           "dp, policy_json, override, created_at, updated_at) VALUES (:d, :u, 'published', 'mst', "
                           "'{}', '{}', true, '{}', false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"), {"d": did, "u": uid})
        upgrade(eng)
        assert current_revision(eng) == head_revision()
        with eng.connect() as c:
            assert c.execute(text("SELECT classification FROM datasets")).all() == [("restricted",)]
            assert c.execute(text("SELECT state, second_approver_id, expires_at FROM releases")).all() == [
                ("published", None, None)]
        command.downgrade(alembic_config(eng), "0003")
        assert current_revision(eng) == "0003"
        with eng.connect() as c:
            assert c.execute(text("SELECT state FROM releases")).all() == [("published",)]
        upgrade(eng)
        assert current_revision(eng) == head_revision()
    finally:
        eng.dispose()


def test_0005_adds_the_shared_login_throttle_tables_and_downgrades(db_url):
    """0005 creates the sign-in throttle's tables (empty), keeps existing rows, and downgrades
    back to 0004 without them."""
    from alembic import command
    from sqlalchemy import inspect, text

    from app.core.migrations import alembic_config

    eng = make_engine(db_url)
    try:
        upgrade(eng, "0004")
        with eng.begin() as c:
            _insert_user_u(c)
        assert "login_failures" not in inspect(eng).get_table_names()
        upgrade(eng)
        assert current_revision(eng) == head_revision()
        with eng.begin() as c:
            c.execute(text("INSERT INTO login_failures (key, at) VALUES ('source|10.0.0.1', 1.5)"))
            c.execute(text("INSERT INTO login_trusted (account, source) VALUES ('u', '10.0.0.1')"))
            assert c.execute(text("SELECT username FROM users")).all() == [("u",)]
        command.downgrade(alembic_config(eng), "0004")
        assert current_revision(eng) == "0004"
        names = inspect(eng).get_table_names()
        assert "login_failures" not in names and "login_trusted" not in names
        with eng.connect() as c:
            assert c.execute(text("SELECT username FROM users")).all() == [("u",)]
        upgrade(eng)
        assert current_revision(eng) == head_revision()
    finally:
        eng.dispose()
