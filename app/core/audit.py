"""Tamper-evident audit chain (pure: the caller stores entries and the head).

Each entry is hash-chained to its predecessor and sealed with an HMAC:

    payload    = canonical JSON of {seq, at, actor, action, outcome, target, details}
    entry_hash = SHA-256(prev_hash (64 hex chars, ASCII) || payload)         genesis prev = "0"*64
    signature  = HMAC-SHA256(key, entry_hash (ASCII)), hex

What :func:`verify_chain` detects
---------------------------------
* an **edited** entry: its recomputed hash differs from the stored one, or (if the attacker also
  recomputed the hash) its signature no longer verifies — forging one needs the HMAC key;
* a **deleted** entry in the middle: a gap in ``seq`` and a broken ``prev_hash`` link;
* **reordered** entries: ``seq`` out of order and broken links;
* a **truncated** log (the newest entries deleted): the remaining chain is internally
  consistent, so this is detected only by comparing with ``expected_head = (last seq, last
  entry_hash)`` that the caller keeps *outside* the audit table — e.g. a small head file in the
  data directory written atomically after every append (use :func:`format_head` /
  :func:`parse_head`: the head is HMAC-signed so it cannot be rewritten without the key
  either). Someone able to roll back both the table and the head file to an older, consistent
  state is not detected; ship the head to an external log/SIEM to close that gap.

Storage notes for the integrating code
--------------------------------------
* Store ``details`` as TEXT holding :func:`canonical_json` (or re-serialize to exactly the same
  value): a JSONB column may reformat numbers and would make verification fail.
* Store ``at`` exactly as given (an ISO-8601 UTC string, see :func:`utc_now_iso`).
* The HMAC key lives outside the database (``SYNTHGEN_AUDIT_KEY`` or a 0600 key file outside
  the data directory): :func:`load_or_create_hmac_key`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

from app.core.crypto import load_secret_key
from synthgen.errors import InvalidInputError

__all__ = [
    "AUDIT_KEY_ENV",
    "GENESIS_HASH",
    "OUTCOMES",
    "AuditDetailsError",
    "AuditEntry",
    "VerificationResult",
    "canonical_json",
    "canonical_payload",
    "compute_entry_hash",
    "sign",
    "make_entry",
    "verify_chain",
    "format_head",
    "parse_head",
    "load_or_create_hmac_key",
    "check_details_safe",
    "utc_now_iso",
    "safe_text",
    "entry_to_dict",
    "entry_from_dict",
]

AUDIT_KEY_ENV = "SYNTHGEN_AUDIT_KEY"
GENESIS_HASH = "0" * 64
OUTCOMES = ("ok", "denied", "failed")
MAX_DETAIL_STRING = 200
MAX_DETAIL_LIST = 100
MAX_DETAIL_KEYS = 50
MAX_DETAIL_DEPTH = 5
MAX_DETAILS_JSON = 8 * 1024
MAX_FIELD_CHARS = 200  # actor, action, target
MAX_PROBLEMS = 50


class AuditDetailsError(InvalidInputError):
    """Audit details are not small, plain, JSON-able metadata (they might hold table content)."""


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: str
    actor: str
    action: str
    outcome: str
    target: str
    details: dict = field(hash=False)
    prev_hash: str
    entry_hash: str
    signature: str


@dataclass(frozen=True)
class VerificationResult:
    ok: bool
    checked: int
    problems: list[str]

    def __bool__(self) -> bool:
        return self.ok


# --------------------------------------------------------------------------- details guard


def check_details_safe(details: Any) -> None:
    """Raise :class:`AuditDetailsError` unless ``details`` is small plain metadata.

    Allowed: a dict with string keys whose values are str/int/float/bool/None or lists/dicts of
    those, strings of at most 200 characters, finite floats, lists of at most 100 items, dicts
    of at most 50 keys, nesting depth at most 5, at most 8 KiB of JSON in all. Anything bigger
    looks like table content, which must never reach the audit log. Messages name the path and
    the rule, never the value.
    """
    if not isinstance(details, dict):
        raise AuditDetailsError(f"audit details ({type(details).__name__}) must be a dict")
    _check_value(details, "details", 0)
    size = len(canonical_json(details))
    if size > MAX_DETAILS_JSON:
        raise AuditDetailsError(
            f"audit details ({size} bytes of JSON) must be at most {MAX_DETAILS_JSON} bytes; "
            f"log identifiers and counts, not data"
        )


def _check_value(value: Any, path: str, depth: int) -> None:
    if depth > MAX_DETAIL_DEPTH:
        raise AuditDetailsError(f"audit {path} is nested deeper than {MAX_DETAIL_DEPTH} levels")
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if value.bit_length() > 63:  # outside int64: not portable JSON
            raise AuditDetailsError(f"audit {path} is an integer outside the 64-bit range")
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise AuditDetailsError(f"audit {path} is a non-finite float; only finite numbers are allowed")
        return
    if isinstance(value, str):
        if len(value) > MAX_DETAIL_STRING:
            raise AuditDetailsError(
                f"audit {path} is a string of {len(value)} characters; at most {MAX_DETAIL_STRING} are allowed "
                f"(audit details must not contain table content)"
            )
        return
    if isinstance(value, (list, tuple)):
        if len(value) > MAX_DETAIL_LIST:
            raise AuditDetailsError(
                f"audit {path} is a list of {len(value)} items; at most {MAX_DETAIL_LIST} are allowed "
                f"(audit details must not contain table content)"
            )
        for i, item in enumerate(value):
            _check_value(item, f"{path}[{i}]", depth + 1)
        return
    if isinstance(value, dict):
        if len(value) > MAX_DETAIL_KEYS:
            raise AuditDetailsError(f"audit {path} has {len(value)} keys; at most {MAX_DETAIL_KEYS} are allowed")
        for key, item in value.items():
            if not isinstance(key, str):
                raise AuditDetailsError(f"audit {path} has a key of type {type(key).__name__}; keys must be strings")
            if len(key) > MAX_DETAIL_STRING:
                raise AuditDetailsError(
                    f"audit {path} has a key of {len(key)} characters; at most {MAX_DETAIL_STRING} are allowed"
                )
            _check_value(item, f"{path}[{key[:40]!r}]", depth + 1)
        return
    raise AuditDetailsError(
        f"audit {path} has type {type(value).__name__}; only str, int, float, bool, None, lists and dicts "
        f"are allowed"
    )


# --------------------------------------------------------------------------- hashing


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no whitespace, ASCII only, no NaN."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def canonical_payload(
    *, seq: int, at: str, actor: str, action: str, outcome: str, target: str, details: Mapping[str, Any]
) -> bytes:
    """The bytes that are hashed for an entry (everything but the chain fields)."""
    return canonical_json(
        {
            "seq": seq,
            "at": at,
            "actor": actor,
            "action": action,
            "outcome": outcome,
            "target": target,
            "details": details,
        }
    ).encode("ascii")


def compute_entry_hash(prev_hash: str, payload: bytes) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + payload).hexdigest()


def sign(key: bytes, entry_hash: str) -> str:
    return hmac.new(_check_key(key), entry_hash.encode("ascii"), hashlib.sha256).hexdigest()


def _check_key(key: bytes) -> bytes:
    if not isinstance(key, bytes) or len(key) < 16:
        raise InvalidInputError("audit HMAC key must be at least 16 bytes")
    return key


def utc_now_iso(now: datetime | None = None) -> str:
    """ISO-8601 UTC timestamp with microseconds, e.g. ``2025-01-31T12:00:00.000000+00:00``."""
    now = now or datetime.now(timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    return now.astimezone(timezone.utc).isoformat(timespec="microseconds")


def _check_at(at: str) -> None:
    if not isinstance(at, str):
        raise InvalidInputError(f"at ({type(at).__name__}) must be an ISO-8601 UTC string")
    text = at[:-1] + "+00:00" if at.endswith("Z") else at
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(f"at ({at[:40]!r}) must be an ISO-8601 UTC timestamp") from None
    if parsed.utcoffset() != timedelta(0):
        raise InvalidInputError(f"at ({at[:40]!r}) must be in UTC (offset +00:00 or Z)")


def safe_text(value: str, limit: int = MAX_FIELD_CHARS) -> str:
    """Make an untrusted string (a username typed at a failed login, a file name) safe to log:
    control and invisible formatting characters become ``?`` and it is cut to ``limit``
    characters (ending in ``…``). :func:`make_entry` applies it to ``actor`` and ``target``."""
    text = "".join("?" if (unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")) else ch for ch in str(value))
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _check_field(name: str, value: str) -> None:
    if not isinstance(value, str) or not value:
        raise InvalidInputError(f"{name} ({value!r}) must be a non-empty string")
    if len(value) > MAX_FIELD_CHARS:
        raise InvalidInputError(f"{name} ({len(value)} characters) must be at most {MAX_FIELD_CHARS} characters")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise InvalidInputError(f"{name} must not contain control characters")


def make_entry(
    prev: AuditEntry | None,
    *,
    seq: int,
    at: str,
    actor: str,
    action: str,
    outcome: str,
    target: str,
    details: Mapping[str, Any],
    key: bytes,
) -> AuditEntry:
    """The next entry after ``prev`` (``None`` for the first entry, which must have seq 1).

    ``actor`` and ``target`` may carry untrusted text and are passed through :func:`safe_text`;
    ``action``, ``outcome``, ``at`` and ``details`` are validated strictly (InvalidInputError).
    Only ``prev.seq`` and ``prev.entry_hash`` are used from ``prev``.
    """
    expected_seq = 1 if prev is None else prev.seq + 1
    if isinstance(seq, bool) or not isinstance(seq, int) or seq != expected_seq:
        raise InvalidInputError(f"seq ({seq!r}) must be {expected_seq}: one more than the previous entry's")
    _check_at(at)
    if isinstance(actor, str):
        actor = safe_text(actor)
    if isinstance(target, str):
        target = safe_text(target)
    _check_field("actor", actor)
    _check_field("action", action)
    _check_field("target", target)
    if outcome not in OUTCOMES:
        raise InvalidInputError(f"outcome ({str(outcome)[:20]!r}) must be one of {', '.join(OUTCOMES)}")
    details = dict(details)
    check_details_safe(details)
    details = json.loads(canonical_json(details))  # a private deep copy, normalised as it will be stored
    prev_hash = GENESIS_HASH if prev is None else prev.entry_hash
    payload = canonical_payload(
        seq=seq, at=at, actor=actor, action=action, outcome=outcome, target=target, details=details
    )
    entry_hash = compute_entry_hash(prev_hash, payload)
    return AuditEntry(
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        outcome=outcome,
        target=target,
        details=details,
        prev_hash=prev_hash,
        entry_hash=entry_hash,
        signature=sign(key, entry_hash),
    )


# --------------------------------------------------------------------------- verification


def verify_chain(
    entries: Sequence[AuditEntry],
    key: bytes,
    *,
    expected_head: tuple[int, str] | None = None,
    after: tuple[int, str] | None = None,
) -> VerificationResult:
    """Check a run of entries, oldest first.

    ``after`` = (seq, entry_hash) of the entry just before ``entries[0]`` when verifying a page
    (default: the genesis, seq 0 / "0"*64). ``expected_head`` = (seq, entry_hash) of the newest
    entry as recorded outside the audit table; without it, truncation cannot be detected.
    Never raises for malformed entries: every problem is reported in ``problems`` (first 50).
    """
    _check_key(key)
    problems: list[str] = []
    prev_seq, prev_hash = after if after is not None else (0, GENESIS_HASH)
    bad_signatures = 0
    checked = 0
    for position, entry in enumerate(entries):
        checked += 1
        try:
            seq = entry.seq
            if seq != prev_seq + 1:
                problems.append(
                    f"entry at position {position} has seq {seq}, expected {prev_seq + 1} "
                    f"(entries deleted, inserted or reordered)"
                )
            if entry.prev_hash != prev_hash:
                problems.append(f"entry seq {seq}: prev_hash does not match the previous entry's hash (chain broken)")
            payload = canonical_payload(
                seq=entry.seq,
                at=entry.at,
                actor=entry.actor,
                action=entry.action,
                outcome=entry.outcome,
                target=entry.target,
                details=entry.details,
            )
            if not hmac.compare_digest(compute_entry_hash(entry.prev_hash, payload), str(entry.entry_hash)):
                problems.append(f"entry seq {seq}: content does not match its entry_hash (entry edited)")
            if not hmac.compare_digest(sign(key, str(entry.entry_hash)), str(entry.signature)):
                bad_signatures += 1
                problems.append(f"entry seq {seq}: signature invalid (entry forged or wrong audit key)")
            prev_seq, prev_hash = seq, str(entry.entry_hash)
        except (AttributeError, TypeError, ValueError, UnicodeEncodeError) as exc:
            problems.append(f"entry at position {position} is malformed ({exc.__class__.__name__})")
            prev_seq, prev_hash = prev_seq + 1, getattr(entry, "entry_hash", "") or ""
    if checked and bad_signatures == checked:
        problems.insert(0, f"no entry's signature verifies ({checked} checked): wrong audit key, or a forged log")
    if expected_head is not None:
        head_seq, head_hash = expected_head
        if prev_seq < head_seq:
            problems.append(
                f"log ends at seq {prev_seq} but the recorded head is seq {head_seq}: "
                f"{head_seq - prev_seq} newest entries are missing (log truncated)"
            )
        elif prev_seq > head_seq:
            problems.append(
                f"log ends at seq {prev_seq} beyond the recorded head seq {head_seq} "
                f"(entries appended without updating the head, or the head was rolled back)"
            )
        elif not hmac.compare_digest(prev_hash, head_hash):
            problems.append(f"last entry seq {prev_seq} does not match the recorded head hash (log rewritten)")
    if len(problems) > MAX_PROBLEMS:
        more = len(problems) - MAX_PROBLEMS
        problems = problems[:MAX_PROBLEMS] + [f"... and {more} more problems"]
    return VerificationResult(ok=not problems, checked=checked, problems=problems)


def format_head(seq: int, entry_hash: str, key: bytes) -> str:
    """Text for the head file: ``seq entry_hash hmac`` (one line). Write it atomically."""
    body = f"{int(seq)} {entry_hash}"
    mac = hmac.new(_check_key(key), b"synthgen-audit-head|" + body.encode("ascii"), hashlib.sha256).hexdigest()
    return f"{body} {mac}\n"


def parse_head(text: str, key: bytes) -> tuple[int, str]:
    """Inverse of :func:`format_head`; :class:`InvalidInputError` if malformed or not signed by ``key``."""
    parts = text.split()
    if len(parts) != 3 or not parts[0].isdigit():
        raise InvalidInputError("audit head file must hold 'seq entry_hash hmac' on one line")
    seq, entry_hash, mac = int(parts[0]), parts[1], parts[2]
    expected = format_head(seq, entry_hash, key).split()[2]
    if not hmac.compare_digest(expected, mac):
        raise InvalidInputError("audit head file signature is invalid (edited, or wrong audit key)")
    return seq, entry_hash


# --------------------------------------------------------------------------- key, (de)serialisation


def load_or_create_hmac_key(
    env_value: str | None, key_file: Path, data_dir: Path, create: bool
) -> tuple[bytes, str]:
    """The audit HMAC key from ``SYNTHGEN_AUDIT_KEY`` (base64 of 32 bytes) or ``key_file``.

    Same rules as the master key: never inside ``data_dir``, file 0600, created atomically
    only when ``create``. Returns ``(key, message)``; the message never contains the key.
    """
    return load_secret_key(
        env_value, key_file, data_dir, create=create, what="audit key", env_name=AUDIT_KEY_ENV
    )


def entry_to_dict(entry: AuditEntry) -> dict[str, Any]:
    """Plain dict for storage; ``details`` as canonical JSON text (store it verbatim)."""
    return {
        "seq": entry.seq,
        "at": entry.at,
        "actor": entry.actor,
        "action": entry.action,
        "outcome": entry.outcome,
        "target": entry.target,
        "details": canonical_json(entry.details),
        "prev_hash": entry.prev_hash,
        "entry_hash": entry.entry_hash,
        "signature": entry.signature,
    }


def entry_from_dict(row: Mapping[str, Any]) -> AuditEntry:
    """Inverse of :func:`entry_to_dict` (``details`` may be JSON text or an already-parsed dict)."""
    details = row["details"]
    if isinstance(details, (str, bytes)):
        details = json.loads(details)
    return AuditEntry(
        seq=int(row["seq"]),
        at=str(row["at"]),
        actor=str(row["actor"]),
        action=str(row["action"]),
        outcome=str(row["outcome"]),
        target=str(row["target"]),
        details=details,
        prev_hash=str(row["prev_hash"]),
        entry_hash=str(row["entry_hash"]),
        signature=str(row["signature"]),
    )


# --------------------------------------------------------------------------- CSV export

#: Columns of the audit CSV export, in order.
CSV_COLUMNS = ("seq", "at", "actor", "action", "outcome", "target", "details", "entry_hash", "signature")


def entries_to_csv(entries: Sequence[AuditEntry]) -> bytes:
    """UTF-8 CSV (every cell quoted, CRLF) of ``entries`` for people and spreadsheets.

    Every cell goes through :func:`app.core.uploads.escape_formula`: actor names, targets and
    details can carry text chosen by users (a user name such as ``=HYPERLINK(...)``), which a
    spreadsheet would otherwise run as a formula when the auditor opens the file."""
    import csv
    import io

    from app.core.uploads import escape_formula

    buf = io.StringIO()
    writer = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for e in entries:
        row = entry_to_dict(e)  # details as canonical JSON, exactly as hashed
        writer.writerow([escape_formula("" if row[c] is None else str(row[c])) for c in CSV_COLUMNS])
    return buf.getvalue().encode("utf-8")
