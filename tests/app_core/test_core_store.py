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
