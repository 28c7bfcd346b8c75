"""Audit log: one entry per action, and the verifier catches edits, deletions, reordering, truncation."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select, update

from app.core import jobs
from app.core.authz import PermissionDeniedError
from app.core.services import AuthenticationError
from app.core.store import AuditRow, transaction
from core_helpers import PASSWORD, TITANIC_SCHEMA, make_team, tiny_pipeline, upload_titanic


def entries(platform):
    with transaction(platform._factory) as s:
        return [(r.action, r.outcome, r.actor) for r in s.execute(select(AuditRow).order_by(AuditRow.seq)).scalars()]


def exactly_one(platform, expected_action, expected_outcome, call):
    before = entries(platform)
    result = call()
    after = entries(platform)
    new = after[len(before):]
    assert len(new) == 1, f"{expected_action}: {new}"
    assert new[0][:2] == (expected_action, expected_outcome), new
    return result


def test_each_action_writes_exactly_one_entry(platform):
    team = make_team(platform)
    p = platform
    exactly_one(p, "login", "ok", lambda: p.login("owner", PASSWORD))

    def bad_login():
        with pytest.raises(AuthenticationError):
            p.login("owner", "not the password!")
    exactly_one(p, "login", "failed", bad_login)
    ds = exactly_one(p, "upload", "ok", lambda: upload_titanic(p, team, members=False))
    for a in (team.officer, team.officer2, team.ml):
        exactly_one(p, "add_member", "ok", lambda: p.add_member(team.admin, ds.id, a.user_id))
    exactly_one(p, "edit_schema", "ok", lambda: p.update_schema(team.owner, ds.id, TITANIC_SCHEMA.read_text()))
    exactly_one(p, "set_budget", "ok", lambda: p.set_budget(team.owner, ds.id, 6.0))
    exactly_one(p, "view_raw", "ok", lambda: p.draft_schema(team.owner, ds.id))
    rel = exactly_one(p, "request_release", "ok",
                      lambda: p.request_release(team.owner, ds.id, synthesizer="mst", epsilon=0.5))
    claimed = exactly_one(p, "fit", "ok", lambda: jobs.claim_next(p))
    exactly_one(p, "evaluate", "ok", lambda: jobs.run_claimed(p, claimed, tiny_pipeline()))
    exactly_one(p, "view_risk_report", "ok", lambda: p.get_risk_report(team.officer, rel.id))
    exactly_one(p, "approve", "ok", lambda: p.approve(team.officer, rel.id, "fine"))
    exactly_one(p, "download", "ok", lambda: p.download(team.ml, rel.id, "bundle"))
    exactly_one(p, "publish", "ok", lambda: p.publish(team.officer, rel.id))
    exactly_one(p, "revoke", "ok", lambda: p.revoke(team.officer2, rel.id, "superseded"))
    rel2 = p.request_release(team.owner, ds.id, synthesizer="mst", epsilon=0.5)
    jobs.run_one(p, tiny_pipeline())
    exactly_one(p, "reject", "ok", lambda: p.reject(team.officer, rel2.id, "utility too low"))

    def denied():
        with pytest.raises(PermissionDeniedError):
            p.draft_schema(team.ml, ds.id)
    exactly_one(p, "view_raw", "denied", denied)
    exactly_one(p, "rotate_keys", "ok", lambda: p.rotate_keys(team.admin))
    exactly_one(p, "delete_dataset", "ok", lambda: p.delete_dataset(team.owner, ds.id))
    exactly_one(p, "verify_audit", "ok", lambda: p.verify_audit(team.admin))
    assert p.verify_audit_chain().ok


def _snapshot(platform):
    with transaction(platform._factory) as s:
        return [{c.name: getattr(r, c.name) for c in AuditRow.__table__.columns}
                for r in s.execute(select(AuditRow).order_by(AuditRow.seq)).scalars()]


def _restore(platform, rows):
    with transaction(platform._factory) as s:
        s.execute(delete(AuditRow))
        s.add_all([AuditRow(**r) for r in rows])
    assert platform.verify_audit_chain().ok


def test_verifier_catches_each_tampering(platform):
    team = make_team(platform)
    upload_titanic(platform, team)
    original = _snapshot(platform)
    assert len(original) > 10 and platform.verify_audit(team.admin).ok
    original = _snapshot(platform)
    mid = original[len(original) // 2]["seq"]
    last = original[-1]["seq"]

    def edited(s):
        s.execute(update(AuditRow).where(AuditRow.seq == mid).values(actor="mallory"))

    def deleted(s):
        s.execute(delete(AuditRow).where(AuditRow.seq == mid))

    def reordered(s):
        a, b = original[mid - 1], original[mid]
        s.execute(delete(AuditRow).where(AuditRow.seq.in_((a["seq"], b["seq"]))))
        s.flush()
        s.add(AuditRow(**{**a, "seq": b["seq"]}))
        s.add(AuditRow(**{**b, "seq": a["seq"]}))

    def truncated(s):
        s.execute(delete(AuditRow).where(AuditRow.seq >= last - 1))

    for name, tamper in [("edited", edited), ("deleted", deleted), ("reordered", reordered), ("truncated", truncated)]:
        with transaction(platform._factory) as s:
            tamper(s)
        result = platform.verify_audit_chain()
        assert not result.ok, name
        assert result.problems, name
        if name == "truncated":
            assert any("truncated" in p for p in result.problems)
        _restore(platform, original)
    # the edited content alone, with a recomputed hash but no key, is caught by the signature
    from app.core.audit import canonical_payload, compute_entry_hash

    row = original[2]
    payload = canonical_payload(seq=row["seq"], at=row["at"], actor="mallory", action=row["action"],
                                outcome=row["outcome"], target=row["target"], details={})
    new_hash = compute_entry_hash(row["prev_hash"], payload)
    with transaction(platform._factory) as s:
        s.execute(update(AuditRow).where(AuditRow.seq == row["seq"]).values(actor="mallory", details_json="{}",
                                                                             entry_hash=new_hash))
    result = platform.verify_audit_chain()
    assert not result.ok and any("signature" in p for p in result.problems)


def _roll_back_consistently(platform, keep_through: int) -> None:
    """What restoring an older copy of the database does, or someone with database access but
    without the audit key: delete the newest entries and point the head row at the genuinely
    signed head it had when ``keep_through`` was the newest entry. The chain stays valid."""
    from app.core.audit import format_head
    from app.core.store import AuditHead

    with transaction(platform._factory) as s:
        kept = s.execute(select(AuditRow).where(AuditRow.seq == keep_through)).scalar_one()
        head = s.get(AuditHead, 1)
        older_copy = format_head(kept.seq, kept.entry_hash, platform._audit_key)  # as the older copy holds it
        s.execute(delete(AuditRow).where(AuditRow.seq > keep_through))
        head.seq, head.entry_hash, head.signed_head = kept.seq, kept.entry_hash, older_copy


def test_witness_outside_the_database_catches_a_consistent_rollback(platform):
    team = make_team(platform)
    upload_titanic(platform, team)
    with transaction(platform._factory) as s:
        last = s.execute(select(AuditRow.seq).order_by(AuditRow.seq.desc()).limit(1)).scalar_one()
        last_hash = s.execute(select(AuditRow.entry_hash).where(AuditRow.seq == last)).scalar_one()
    witness = platform.settings.audit_witness_file
    assert witness.parent == platform.settings.key_dir and (witness.stat().st_mode & 0o777) == 0o600
    from app.core.audit import parse_head

    assert parse_head(witness.read_text(), platform._audit_key) == (last, last_hash)
    assert platform.verify_audit_chain().ok

    _roll_back_consistently(platform, last - 3)
    result = platform.verify_audit_chain()
    assert not result.ok
    assert result.problems == [f"the log ends at seq {last - 3} but the witness outside the database ({witness}) "
                               f"recorded seq {last}: entries were removed or the database was restored from an "
                               "older copy (after a deliberate restore, move the witness file aside to accept the "
                               "restored log)"]
    # later actions neither erase the evidence nor hide it once the log grows past the witness
    for _ in range(2):
        platform.login("owner", PASSWORD)
    assert parse_head(witness.read_text(), platform._audit_key) == (last, last_hash)
    assert "entries were removed" in platform.verify_audit_chain().problems[0]
    for _ in range(3):
        platform.login("owner", PASSWORD)
    assert parse_head(witness.read_text(), platform._audit_key) == (last, last_hash)
    assert platform.verify_audit_chain().problems == [
        f"entry seq {last} differs from the witness outside the database ({witness}): the log was rewritten"]
    # an operator who restored on purpose moves the witness aside; the next commit writes a new one
    witness.rename(witness.with_name(witness.name + ".before-restore"))
    assert platform.verify_audit_chain().ok
    platform.login("owner", PASSWORD)
    assert parse_head(witness.read_text(), platform._audit_key)[0] == last + 3
    assert platform.verify_audit_chain().ok


def test_a_rolled_back_append_leaves_the_witness_alone(platform):
    make_team(platform)
    witness = platform.settings.audit_witness_file
    before = witness.read_text()
    with pytest.raises(RuntimeError):
        with transaction(platform._factory) as s:
            platform._append_audit(s, actor="x", action="login", outcome="ok", target="-", details={})
            raise RuntimeError("the action failed after appending")
    assert witness.read_text() == before
    assert platform.verify_audit_chain().ok


def test_a_database_created_from_nothing_sets_an_earlier_witness_aside(tmp_path):
    """``make clean`` then ``make run``: the new database starts its own witness; the old one is
    kept, not trusted, and not reported as tampering."""
    from app.core.config import Settings
    from app.core.services import Platform

    settings = Settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path / 'data' / 'db.sqlite'}",
                        key_dir=tmp_path / "keys", create_keys=True)
    with Platform.open(settings) as first:
        make_team(first)
    old = settings.audit_witness_file.read_text()
    (tmp_path / "data" / "db.sqlite").unlink()
    with Platform.open(settings) as second:
        assert any("audit witness of an earlier database" in m for m in second.startup_messages)
        kept = [p for p in settings.key_dir.iterdir() if p.name.startswith(settings.audit_witness_file.name + ".before-")]
        assert [p.read_text() for p in kept] == [old]
        second.create_first_admin("admin", PASSWORD)
        assert second.verify_audit_chain().ok
    # reopening an existing database never sets its witness aside
    with Platform.open(settings) as third:
        assert not any("witness" in m for m in third.startup_messages)
        assert settings.audit_witness_file.exists() and third.verify_audit_chain().ok
