"""Operations: file modes of the embedded database."""

from __future__ import annotations

import stat

from app.core.services import Platform
from core_helpers import make_team


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_sqlite_database_and_its_wal_are_private(tmp_path):
    from app.core.config import Settings

    settings = Settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path / 'data' / 'synthgen.db'}",
                        key_dir=tmp_path / "keys", create_keys=True)
    with Platform.open(settings) as p:
        make_team(p)
        db = tmp_path / "data" / "synthgen.db"
        assert _mode(db) == 0o600
        wal = db.with_name("synthgen.db-wal")
        assert not wal.exists() or _mode(wal) == 0o600
    db.chmod(0o644)  # e.g. restored from a backup with a loose umask: tightened at the next start
    Platform.open(settings).close()
    assert _mode(db) == 0o600
