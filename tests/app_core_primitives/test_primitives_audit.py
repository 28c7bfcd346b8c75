"""Tamper-evident audit chain: untampered verifies; edit, delete, reorder, truncate detected."""

from __future__ import annotations

import dataclasses
import os
import stat
from datetime import datetime, timedelta, timezone

import pytest

from app.core.audit import (
    GENESIS_HASH,
    AuditDetailsError,
    AuditEntry,
    canonical_payload,
    check_details_safe,
    entry_from_dict,
    entry_to_dict,
    format_head,
    load_or_create_hmac_key,
    make_entry,
    parse_head,
    sign,
    utc_now_iso,
    verify_chain,
)
from app.core.crypto import KeyConfigError
from synthgen.errors import InvalidInputError

KEY = b"k" * 32
T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


def build_chain(n=6, key=KEY):
    entries: list[AuditEntry] = []
    prev = None
    for i in range(1, n + 1):
        prev = make_entry(
            prev,
            seq=i,
            at=utc_now_iso(T0 + timedelta(seconds=i)),
            actor=f"user-{i % 3}",
            action="approve" if i % 2 else "view_dataset",
            outcome="ok" if i % 4 else "denied",
            target=f"dataset:ds-{i}",
            details={"epsilon": 0.5 * i, "rows": i * 10, "note": None, "tags": ["a", "b"]},
            key=key,
        )
        entries.append(prev)
    return entries


def head_of(entries):
    return entries[-1].seq, entries[-1].entry_hash


def test_untampered_chain_verifies():
    chain = build_chain()
    result = verify_chain(chain, KEY, expected_head=head_of(chain))
    assert result.ok and result.checked == 6 and result.problems == []
    assert chain[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.entry_hash for a, b in zip(chain, chain[1:]))
    assert verify_chain([], KEY).ok


def test_entry_hash_and_signature_follow_the_documented_formula():
    import hashlib
    import hmac

    e = build_chain(1)[0]
    payload = canonical_payload(
        seq=e.seq, at=e.at, actor=e.actor, action=e.action, outcome=e.outcome, target=e.target, details=e.details
    )
    assert b" " not in payload and payload.index(b'"action"') < payload.index(b'"actor"')  # sorted, compact
    assert e.entry_hash == hashlib.sha256(GENESIS_HASH.encode() + payload).hexdigest()
    assert e.signature == hmac.new(KEY, e.entry_hash.encode(), hashlib.sha256).hexdigest() == sign(KEY, e.entry_hash)


@pytest.mark.parametrize(
    "field,value",
    [("actor", "mallory"), ("outcome", "ok"), ("details", {"epsilon": 100.0, "rows": 30, "note": None, "tags": ["a", "b"]}), ("at", "2020-01-01T00:00:00+00:00")],
)
def test_edited_entry_detected(field, value):
    chain = build_chain()
    chain[3] = dataclasses.replace(chain[3], **{field: value})
    result = verify_chain(chain, KEY, expected_head=head_of(chain))
    assert not result.ok
    assert any("seq 4" in p and "edited" in p for p in result.problems)


def test_edited_entry_with_recomputed_hash_detected_by_signature():
    chain = build_chain()
    e = chain[2]
    forged_details = {**e.details, "epsilon": 99.0}
    payload = canonical_payload(
        seq=e.seq, at=e.at, actor=e.actor, action=e.action, outcome=e.outcome, target=e.target, details=forged_details
    )
    import hashlib

    new_hash = hashlib.sha256(e.prev_hash.encode() + payload).hexdigest()
    chain[2] = dataclasses.replace(e, details=forged_details, entry_hash=new_hash)
    result = verify_chain(chain, KEY)
    assert not result.ok
    assert any("seq 3" in p and "signature" in p for p in result.problems)
    assert any("seq 4" in p and "chain broken" in p for p in result.problems)


def test_deleted_entry_detected():
    chain = build_chain()
    del chain[2]
    result = verify_chain(chain, KEY, expected_head=head_of(chain))
    assert not result.ok
    assert any("seq 4, expected 3" in p for p in result.problems)
    assert any("chain broken" in p for p in result.problems)


def test_reordered_entries_detected():
    chain = build_chain()
    chain[1], chain[2] = chain[2], chain[1]
    result = verify_chain(chain, KEY)
    assert not result.ok
    assert any("has seq 3, expected 2" in p for p in result.problems)


def test_reordered_entries_with_renumbered_seq_detected():
    chain = build_chain()
    a, b = chain[1], chain[2]
    chain[1], chain[2] = dataclasses.replace(b, seq=2), dataclasses.replace(a, seq=3)
    result = verify_chain(chain, KEY)
    assert not result.ok
    assert any("chain broken" in p for p in result.problems)
    assert any("edited" in p for p in result.problems)


def test_truncation_detected_only_with_expected_head():
    chain = build_chain()
    head = head_of(chain)
    truncated = chain[:4]
    assert verify_chain(truncated, KEY).ok  # internally consistent: this is why the head is kept outside
    result = verify_chain(truncated, KEY, expected_head=head)
    assert not result.ok
    assert any("truncated" in p and "2 newest entries are missing" in p for p in result.problems)
    assert not verify_chain([], KEY, expected_head=head).ok


def test_head_mismatch_and_stale_head_detected():
    chain = build_chain()
    assert not verify_chain(chain, KEY, expected_head=(6, "f" * 64)).ok
    assert not verify_chain(chain, KEY, expected_head=(5, chain[4].entry_hash)).ok


def test_wrong_key_fails():
    chain = build_chain()
    result = verify_chain(chain, b"w" * 32, expected_head=head_of(chain))
    assert not result.ok
    assert "wrong audit key" in result.problems[0]
    assert sum("signature invalid" in p for p in result.problems) == 6


def test_chain_built_with_another_key_fails():
    chain = build_chain(key=b"x" * 32)
    assert not verify_chain(chain, KEY).ok


def test_page_verification_with_anchor():
    chain = build_chain()
    anchor = (chain[2].seq, chain[2].entry_hash)
    assert verify_chain(chain[3:], KEY, after=anchor, expected_head=head_of(chain)).ok
    assert not verify_chain(chain[3:], KEY).ok  # without the anchor the page does not start at genesis


def test_malformed_entries_reported_not_raised():
    chain = build_chain(3)
    chain[1] = dataclasses.replace(chain[1], details={"x": float("nan")})
    result = verify_chain(chain, KEY)
    assert not result.ok and result.checked == 3


def test_make_entry_enforces_sequence_and_fields():
    chain = build_chain(2)
    common = dict(at=utc_now_iso(T0), actor="u", action="a", outcome="ok", target="t", details={}, key=KEY)
    with pytest.raises(InvalidInputError, match="seq"):
        make_entry(chain[-1], seq=5, **common)
    with pytest.raises(InvalidInputError, match="seq"):
        make_entry(None, seq=0, **common)
    with pytest.raises(InvalidInputError, match="outcome"):
        make_entry(None, seq=1, **{**common, "outcome": "maybe"})
    with pytest.raises(InvalidInputError, match="UTC"):
        make_entry(None, seq=1, **{**common, "at": "2025-01-01T00:00:00+02:00"})
    with pytest.raises(InvalidInputError, match="action"):
        make_entry(None, seq=1, **{**common, "action": "a\nb"})
    with pytest.raises(InvalidInputError, match="actor"):
        make_entry(None, seq=1, **{**common, "actor": ""})


def test_untrusted_actor_and_target_are_neutralised_not_refused():
    # e.g. the username typed at a failed login: it must still be logged, safely
    e = make_entry(None, seq=1, at=utc_now_iso(T0), actor="eve\nFAKE ENTRY\u202e" + "x" * 500, action="login",
                   outcome="denied", target="user:\x1b[2J", details={}, key=KEY)
    assert "\n" not in e.actor and "\u202e" not in e.actor and len(e.actor) == 200 and e.actor.endswith("\u2026")
    assert e.actor.startswith("eve?FAKE ENTRY?") and e.target == "user:?[2J"
    assert verify_chain([e], KEY).ok


def test_make_entry_copies_details():
    details = {"tags": ["x"]}
    e = make_entry(None, seq=1, at=utc_now_iso(T0), actor="u", action="a", outcome="ok", target="t", details=details, key=KEY)
    details["tags"].append("mutated")
    assert verify_chain([e], KEY).ok


@pytest.mark.parametrize(
    "details,fragment",
    [
        ({"cell": "x" * 201}, "201 characters"),
        ({"rows": list(range(101))}, "101 items"),
        ({"nested": {"deep": [{"v": "y" * 300}]}}, "300 characters"),
        ({"blob": b"bytes"}, "type bytes"),
        ({"frame": object()}, "type object"),
        ({"x": float("inf")}, "non-finite"),
        ({1: "int key"}, "keys must be strings"),
        ({"a": [[[[[[["deep"]]]]]]]}, "nested deeper"),
        ({f"k{i}": "v" * 199 for i in range(45)}, "bytes of JSON"),
        ("not a dict", "must be a dict"),
    ],
)
def test_details_guard_rejects_table_like_content(details, fragment):
    with pytest.raises(AuditDetailsError) as info:
        check_details_safe(details)
    assert fragment in str(info.value)
    assert "xxxxxxxxxx" not in str(info.value) and "yyyyyyyyyy" not in str(info.value)


def test_details_guard_accepts_plain_metadata_and_make_entry_uses_it():
    ok = {"epsilon": 1.0, "delta": 1e-6, "rows": 1000, "ok": True, "none": None, "cols": ["age", "zip"], "m": {"a": "b"}}
    check_details_safe(ok)
    with pytest.raises(AuditDetailsError):
        make_entry(None, seq=1, at=utc_now_iso(T0), actor="u", action="a", outcome="ok", target="t",
                   details={"raw": "z" * 500}, key=KEY)


def test_storage_round_trip_keeps_chain_valid():
    chain = build_chain()
    rows = [entry_to_dict(e) for e in chain]
    assert isinstance(rows[0]["details"], str)
    restored = [entry_from_dict(r) for r in rows]
    assert restored == chain
    assert verify_chain(restored, KEY, expected_head=head_of(chain)).ok


def test_head_file_format_is_signed():
    text = format_head(6, "a" * 64, KEY)
    assert parse_head(text, KEY) == (6, "a" * 64)
    with pytest.raises(InvalidInputError, match="signature"):
        parse_head(text.replace("6 ", "5 ", 1), KEY)
    with pytest.raises(InvalidInputError, match="signature"):
        parse_head(text, b"w" * 32)
    with pytest.raises(InvalidInputError):
        parse_head("garbage", KEY)


def test_hmac_key_file_handling(tmp_path):
    data_dir = tmp_path / "data"
    key_file = tmp_path / "keys" / "audit.key"
    key, message = load_or_create_hmac_key(None, key_file, data_dir, True)
    assert len(key) == 32 and str(key_file) in message
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    again, _ = load_or_create_hmac_key(None, key_file, data_dir, False)
    assert again == key
    with pytest.raises(KeyConfigError, match="outside the data directory"):
        load_or_create_hmac_key(None, data_dir / "audit.key", data_dir, True)
    with pytest.raises(KeyConfigError, match="does not exist"):
        load_or_create_hmac_key(None, tmp_path / "other.key", data_dir, False)
    import base64

    env_key = bytes(range(32))
    loaded, msg = load_or_create_hmac_key(base64.b64encode(env_key).decode(), tmp_path / "x.key", data_dir, True)
    assert loaded == env_key and "SYNTHGEN_AUDIT_KEY" in msg
