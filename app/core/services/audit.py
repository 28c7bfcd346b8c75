"""The audit trail: appending hash-chained, HMAC-signed entries, the witness outside the
database, verification, and the audited reads of the log (view, export, verify).

Rules kept here:

* An entry is appended only inside the transaction of the work it records
  (:meth:`AuditTrail.append`); :meth:`app.core.services.runtime.Runtime.op` is what calls it.
* The head of the log also lives outside the database (the witness file), written after each
  commit that appended to it: someone who rolls back the audit table *and* its head row
  consistently (a restored copy, deleted newest rows) is caught by comparing the two. Written
  after commit only, so a rolled-back append never leaves the witness ahead, and never moved off
  a head the log no longer holds, so later appends cannot erase the evidence.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.core import audit as audit_mod
from app.core import crypto
from app.core.store import AuditHead, AuditRow, lock_for_update, transaction, utcnow
from app.core.services.inputs import clean_text, sha256_hex
from app.core.services.types import Actor
from synthgen.errors import InvalidInputError

if TYPE_CHECKING:
    from app.core.services.runtime import Runtime

_log = logging.getLogger(__name__)

OUTCOMES = ("ok", "denied", "failed")


def set_aside_stale_witness(witness: Path) -> list[str]:
    """A database created from nothing (every table, not only the audit log, was absent)
    cannot match a witness left by an earlier database at the same URL (``make clean``, a
    reinstall): keep that witness under another name instead of failing every verification."""
    if not witness.exists():
        return []
    aside = witness.with_name(f"{witness.name}.before-{utcnow().strftime('%Y%m%dT%H%M%SZ')}")
    os.replace(witness, aside)
    return [f"new database: the audit witness of an earlier database at this URL was kept as {aside}"]


class AuditTrail:
    """Writes and verifies the log. ``clock`` is read at each append (tests move it)."""

    def __init__(self, witness_file: Path, key: bytes, clock: Callable[[], datetime]):
        self.witness_file = witness_file
        self.key = key
        self._clock = clock

    def ensure_head(self, factory: sessionmaker[Session]) -> None:
        try:
            with transaction(factory) as s:
                if s.get(AuditHead, 1) is None:
                    s.add(AuditHead(id=1, seq=0, entry_hash=audit_mod.GENESIS_HASH,
                                    signed_head=audit_mod.format_head(0, audit_mod.GENESIS_HASH, self.key)))
        except IntegrityError:  # another process created it first
            pass

    def append(self, s: Session, *, actor: str, action: str, outcome: str, target: str,
               details: dict[str, Any]) -> audit_mod.AuditEntry:
        """Append one entry in the caller's transaction (locks the head row)."""
        head = s.execute(lock_for_update(select(AuditHead).where(AuditHead.id == 1), s)).scalar_one()
        prev = None
        if head.seq > 0:
            prev = audit_mod.AuditEntry(seq=head.seq, at="", actor="", action="", outcome="", target="",
                                        details={}, prev_hash="", entry_hash=head.entry_hash, signature="")
        entry = audit_mod.make_entry(prev, seq=head.seq + 1, at=audit_mod.utc_now_iso(self._clock()),
                                     actor=actor or "anonymous", action=action, outcome=outcome,
                                     target=target or "-", details=details, key=self.key)
        d = audit_mod.entry_to_dict(entry)
        s.add(AuditRow(seq=d["seq"], at=d["at"], actor=d["actor"], action=d["action"], outcome=d["outcome"],
                       target=d["target"], details_json=d["details"], prev_hash=d["prev_hash"],
                       entry_hash=d["entry_hash"], signature=d["signature"]))
        head.seq = entry.seq
        head.entry_hash = entry.entry_hash
        head.signed_head = audit_mod.format_head(entry.seq, entry.entry_hash, self.key)
        s.flush()
        if self._witness_may_advance(s, entry.seq):
            s.info["audit_head"] = (entry.seq, entry.entry_hash)
        return entry

    # -- the witness outside the database ------------------------------------------------------
    def _read_witness(self) -> tuple[int, str] | None | str:
        """(seq, entry_hash) of the witness, None when there is none, or why it is unreadable."""
        try:
            return audit_mod.parse_head(self.witness_file.read_text(encoding="ascii"), self.key)
        except FileNotFoundError:
            return None
        except (InvalidInputError, OSError, UnicodeDecodeError) as exc:
            return str(exc)

    def _witness_may_advance(self, s: Session, new_seq: int) -> bool:
        """True when the witness is missing, or names an older entry that the log still holds."""
        witness = self._read_witness()
        if witness is None:
            return True
        if isinstance(witness, str):
            return False  # keep an unreadable witness for the verifier to report
        seq, entry_hash = witness
        if seq >= new_seq:
            return False  # the log is behind the witness: keep the evidence
        if seq == 0:
            return True
        held = s.execute(select(AuditRow.entry_hash).where(AuditRow.seq == seq)).scalar_one_or_none()
        return held == entry_hash

    def write_witness(self, session: Session) -> None:
        """``after_commit`` listener of the session factory."""
        head = session.info.pop("audit_head", None)
        if head is None:
            return
        seq, entry_hash = head
        try:
            crypto.write_secret_file(self.witness_file, audit_mod.format_head(seq, entry_hash, self.key) + "\n")
        except OSError as exc:  # the action committed; a lagging witness only weakens the check
            _log.warning("could not write the audit witness %s: %s", self.witness_file, exc)

    @staticmethod
    def forget_pending_witness(session: Session, previous) -> None:
        """``after_soft_rollback`` listener: a rolled-back append never moves the witness."""
        session.info.pop("audit_head", None)

    def _witness_problems(self, entries: list[audit_mod.AuditEntry]) -> list[str]:
        """Compare the log with the witness outside the database. Processes write it in any
        order, so it may lag the log (fine) but never run ahead of it or disagree with it."""
        path = self.witness_file
        witness = self._read_witness()
        if witness is None:
            return []
        if isinstance(witness, str):
            return [f"the audit witness {path} is unreadable: {witness}"]
        seq, entry_hash = witness
        last = entries[-1].seq if entries else 0
        if seq > last:
            return [f"the log ends at seq {last} but the witness outside the database ({path}) recorded seq {seq}: "
                    "entries were removed or the database was restored from an older copy (after a deliberate "
                    "restore, move the witness file aside to accept the restored log)"]
        at = next((e for e in entries if e.seq == seq), None)
        if seq > 0 and (at is None or at.entry_hash != entry_hash):
            return [f"entry seq {seq} differs from the witness outside the database ({path}): the log was rewritten"]
        return []

    # -- reading and verifying -----------------------------------------------------------------
    @staticmethod
    def rows(s: Session, q) -> list[audit_mod.AuditEntry]:
        return [audit_mod.entry_from_dict({"seq": r.seq, "at": r.at, "actor": r.actor, "action": r.action,
                                           "outcome": r.outcome, "target": r.target, "details": r.details_json,
                                           "prev_hash": r.prev_hash, "entry_hash": r.entry_hash,
                                           "signature": r.signature})
                for r in s.execute(q).scalars()]

    def verify(self, s: Session) -> audit_mod.VerificationResult:
        entries = self.rows(s, select(AuditRow).order_by(AuditRow.seq))
        head = s.get(AuditHead, 1)
        problems = []
        expected = None
        if head is None:
            problems.append("the audit head record is missing")
        else:
            try:
                expected = audit_mod.parse_head(head.signed_head, self.key)
            except InvalidInputError as exc:
                problems.append(str(exc))
            if expected is not None and expected != (head.seq, head.entry_hash):
                problems.append("the audit head record was edited")
        result = audit_mod.verify_chain(entries, self.key, expected_head=expected)
        problems += self._witness_problems(entries)
        if problems:
            return audit_mod.VerificationResult(ok=False, checked=result.checked, problems=problems + result.problems)
        return result


class AuditService:
    """The audited reads of the log, for privacy officers and administrators (``view_audit``)."""

    def __init__(self, rt: "Runtime"):
        self.rt = rt

    def _query(self, *, action: str | None, actor_name: str | None, target: str | None,
               outcomes: tuple[str, ...] | list[str] | None, since_seq: int | None, limit: int, newest: bool,
               max_limit: int) -> tuple[Any, dict[str, Any]]:
        """(query, filters) of the audit entries matching the filters, oldest first. ``newest``:
        the last ``limit`` matching entries instead of the first ``limit``."""
        filters: dict[str, Any] = {}
        for name, value in (("action", action), ("actor", actor_name), ("target", target)):
            value = clean_text(value, f"filter {name}", required=False, max_len=128) or None
            filters[name] = value
        if outcomes is not None:
            if isinstance(outcomes, str) or not all(isinstance(o, str) for o in outcomes):
                raise InvalidInputError("outcomes must be a list of outcome names")
            unknown = sorted(set(outcomes) - set(OUTCOMES))
            if unknown:
                raise InvalidInputError(f"outcomes ({', '.join(repr(o[:20]) for o in unknown[:3])}) must be among "
                                        f"{', '.join(OUTCOMES)}")
            outcomes = tuple(o for o in OUTCOMES if o in outcomes)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= max_limit:
            raise InvalidInputError(f"limit ({limit!r}) must be an integer between 1 and {max_limit}")
        q = select(AuditRow)
        if filters["action"]:
            q = q.where(AuditRow.action == filters["action"])
        if filters["actor"]:
            q = q.where(AuditRow.actor == filters["actor"])
        if filters["target"]:
            q = q.where(AuditRow.target == filters["target"])
        if outcomes is not None:
            q = q.where(AuditRow.outcome.in_(outcomes))
        if since_seq is not None:
            q = q.where(AuditRow.seq > int(since_seq))
        filters.update(outcomes=list(outcomes) if outcomes is not None else None, since_seq=since_seq, limit=limit,
                       newest=newest)
        if newest:
            last = q.order_by(AuditRow.seq.desc()).limit(limit).subquery()
            return select(AuditRow).join(last, AuditRow.seq == last.c.seq).order_by(AuditRow.seq), filters
        return q.order_by(AuditRow.seq).limit(limit), filters

    def audit_log(self, actor: Actor, *, action: str | None = None, actor_name: str | None = None,
                  target: str | None = None, since_seq: int | None = None, limit: int = 500,
                  outcomes: tuple[str, ...] | list[str] | None = None, newest: bool = False) -> list:
        """Audit entries (``app.core.audit.AuditEntry``), oldest first: the first ``limit``
        matching entries, or with ``newest`` the last ``limit`` ones."""
        with self.rt.op(actor, "view_audit", "audit") as op:
            self.rt.authorize(op, "view_audit")
            q, _filters = self._query(action=action, actor_name=actor_name, target=target, outcomes=outcomes,
                                      since_seq=since_seq, limit=max(1, min(int(limit), 10_000)),
                                      newest=newest, max_limit=10_000)
            return self.rt.trail.rows(op.session, q)

    def export_audit(self, actor: Actor, *, action: str | None = None, actor_name: str | None = None,
                     target: str | None = None, outcomes: tuple[str, ...] | list[str] | None = None,
                     since_seq: int | None = None, limit: int = 100_000, newest: bool = True) -> bytes:
        """CSV of the audit entries matching the filters (same filters as :meth:`audit_log`),
        for privacy officers and administrators (``view_audit``). Cells are escaped against
        spreadsheet formula injection (:func:`app.core.audit.entries_to_csv`).

        The export is itself an audited action (``export_audit``, with the filters, the row
        count and the SHA-256 of the file), written in the same transaction as the read: an
        auditor can tell which extract of the log left the platform, when and with whom."""
        with self.rt.op(actor, "export_audit", "audit") as op:
            self.rt.authorize(op, "view_audit")
            q, filters = self._query(action=action, actor_name=actor_name, target=target, outcomes=outcomes,
                                     since_seq=since_seq, limit=limit, newest=newest, max_limit=100_000)
            entries = self.rt.trail.rows(op.session, q)
            data = audit_mod.entries_to_csv(entries)
            op.details.update(filters={k: v for k, v in filters.items() if v is not None}, rows=len(entries),
                              first_seq=entries[0].seq if entries else None,
                              last_seq=entries[-1].seq if entries else None, sha256=sha256_hex(data))
            return data

    def verify_audit(self, actor: Actor) -> audit_mod.VerificationResult:
        """Verify hash chain, signatures, the stored head and the witness outside the database
        (detects edits, deletions, reordering, truncation and a consistent rollback of the log
        with its head)."""
        with self.rt.op(actor, "verify_audit", "audit") as op:
            self.rt.authorize(op, "view_audit")
            result = self.rt.trail.verify(op.session)
            op.details.update(ok=result.ok, checked=result.checked, problems=len(result.problems))
            return result
