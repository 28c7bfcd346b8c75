"""Tampering with the audit log is reported, never crashes audited calls; keys are checked
against the database before anything is written."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select

from app.core import audit as audit_mod
from app.core.services import Platform
from app.core.services.runtime import KeyMismatchError
from app.core.store import AuditHead, AuditRow, session_factory, transaction
from core_helpers import PASSWORD, make_team, random_key_b64


def _count(platform) -> int:
    with session_factory(platform.engine)() as s:
        return s.execute(select(func.count()).select_from(AuditRow)).scalar_one()


def test_deleted_head_is_reported_and_audited_calls_go_on(platform):
    team = make_team(platform)
    with transaction(platform._factory) as s:
        s.execute(delete(AuditHead))
    result = platform.verify_audit_chain()
    assert not result.ok and any("head record is missing" in p for p in result.problems)
    platform.record(actor="test", action="probe", outcome="ok", target="-", details={})  # no IntegrityError
    assert platform.list_datasets(team.owner) == []
    result = platform.verify_audit_chain()
    assert not result.ok and any("head_missing" in p for p in result.problems)  # the repair is on record
    repairs = platform.audit_log(platform.login("admin", PASSWORD).actor, action="audit_repair")
    assert [r.details["problem"] for r in repairs] == ["head_missing"]


def test_forged_newest_row_is_reported_and_audited_calls_go_on(platform):
    team = make_team(platform)
    with transaction(platform._factory) as s:
        last = s.execute(select(AuditRow).order_by(AuditRow.seq.desc()).limit(1)).scalar_one()
        forged = audit_mod.make_entry(None, seq=1, at=last.at, actor="mallory", action="approve", outcome="ok",
                                      target="release:1", details={}, key=b"k" * 32)
        s.add(AuditRow(seq=last.seq + 1, at=last.at, actor="mallory", action="approve", outcome="ok",
                       target="release:1", details_json="{}", prev_hash=last.entry_hash,
                       entry_hash=forged.entry_hash, signature=forged.signature))
    before = _count(platform)
    platform.record(actor="test", action="probe", outcome="ok", target="-", details={})
    assert _count(platform) == before + 2  # the repair note, then the entry
    result = platform.verify_audit_chain()
    assert not result.ok and any("rows_past_head" in p for p in result.problems)


def test_unparsable_forged_row_is_a_problem_not_a_crash(platform):
    make_team(platform)
    with transaction(platform._factory) as s:
        s.execute(AuditRow.__table__.update().where(AuditRow.seq == 2).values(details_json="not json"))
    result = platform.verify_audit_chain()
    assert not result.ok and any("seq 2" in p for p in result.problems)


def test_wrong_audit_key_is_refused_before_anything_is_written(settings):
    with Platform.open(settings) as p:
        make_team(p)
        before = _count(p)
    with pytest.raises(KeyMismatchError, match="audit key does not match"):
        Platform.open(settings.with_(audit_key_env=random_key_b64()))
    with Platform.open(settings) as p:
        assert _count(p) == before and p.verify_audit_chain().ok


def test_wrong_master_key_is_refused_before_anything_is_written(settings):
    from core_helpers import upload_titanic

    with Platform.open(settings) as p:
        upload_titanic(p, make_team(p))
        before = _count(p)
    with pytest.raises(KeyMismatchError, match="master key"):
        Platform.open(settings.with_(master_key_env=random_key_b64()))
    with Platform.open(settings) as p:
        assert _count(p) == before and p.verify_audit_chain().ok


def test_missing_key_files_are_not_recreated_for_a_database_with_data(settings, tmp_path):
    with Platform.open(settings) as p:
        make_team(p)
    elsewhere = settings.with_(key_dir=tmp_path / "other-keys")
    with pytest.raises(Exception, match="does not exist"):
        Platform.open(elsewhere)
    assert not (tmp_path / "other-keys" / "audit.key").exists()
