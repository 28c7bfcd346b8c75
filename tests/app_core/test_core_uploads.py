"""Hostile uploads are rejected with a user-facing message and leave nothing behind."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.core.store import Dataset, transaction
from app.core.uploads import UploadLimits
from core_helpers import make_team
from synthgen.errors import InvalidInputError

GOOD_ROWS = "".join(f"{i},{i % 3}\n" for i in range(100))

HOSTILE = {
    "empty": ("t.csv", b""),
    "binary_as_csv": ("t.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20),
    "bad_extension": ("t.exe", b"a,b\n1,2\n"),
    "path_traversal": ("../../etc/passwd.csv", b"a,b\n" + GOOD_ROWS.encode()),
    "ragged_rows": ("t.csv", b"a,b\n1,2\n3\n4,5,6\n" + GOOD_ROWS.encode()),
    "nul_bytes": ("t.csv", b"a,b\n1,\x002\n" + GOOD_ROWS.encode()),
    "duplicate_header": ("t.csv", b"a,a\n" + GOOD_ROWS.encode()),
    "not_utf8": ("t.csv", b"a,b\n\xff\xfe,1\n" + GOOD_ROWS.encode()),
    "fake_parquet": ("t.parquet", b"PAR1" + b"\x00" * 100 + b"PAR1"),
    "too_big": ("t.csv", b"a,b\n" + b"1,2\n" * 40_000),
    "too_few_rows": ("t.csv", b"a,b\n1,2\n3,4\n"),
}


def test_hostile_uploads_rejected_and_nothing_stored(platform, settings):
    platform.upload_limits = UploadLimits(max_bytes=100_000)
    team = make_team(platform)
    for case, (filename, data) in sorted(HOSTILE.items()):
        with pytest.raises(InvalidInputError) as err:
            platform.upload_dataset(team.owner, filename, data, name="hostile", classification="public", budget_epsilon=1.0, delta=1e-6)
        message = str(err.value)
        assert message and len(message) < 500 and "Traceback" not in message, case
        with transaction(platform._factory) as s:
            assert s.execute(select(func.count()).select_from(Dataset)).scalar_one() == 0, case
        root = settings.data_dir / "datasets"
        assert not root.exists() or [p for p in root.rglob("*") if p.is_file()] == [], case
        last = platform.audit_log(team.admin, action="upload")[-1]
        assert last.outcome == "failed" and last.actor == "owner", case


def test_good_upload_after_rejections(platform):
    team = make_team(platform)
    ds = platform.upload_dataset(team.owner, "ok.csv", b"a,b\n" + GOOD_ROWS.encode(), name="ok", classification="public", budget_epsilon=1.0,
                                 delta=1e-6)
    assert ds.columns == ("a", "b") and ds.members == ("owner",)
    assert ds.budget.total.epsilon(1e-6) == pytest.approx(1.0, rel=1e-6)
