"""Operator checks: integrity of the database, the audit log and every stored file; removal of
files a crash left unreferenced. No actor: run by the worker at start and by ``synthgen check``.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from app.core import audit as audit_mod
from app.core.store import Dataset, Release, integrity_check
from synthgen.errors import SynthgenError

if TYPE_CHECKING:
    from app.core.services.runtime import Runtime


class Maintenance:
    def __init__(self, rt: "Runtime"):
        self.rt = rt

    def verify_audit_chain(self) -> audit_mod.VerificationResult:
        """Verify the audit log without an actor (operators, health checks, tests). Does not append."""
        with self.rt.transaction() as s:
            return self.rt.trail.verify(s)

    def check_integrity(self) -> list[str]:
        """Problems found by: the database's own integrity check, the audit chain verifier, and
        a check that every stored file (dataset tables, release artifacts) exists, has its
        recorded SHA-256 and decrypts. Empty list = healthy."""
        problems = list(integrity_check(self.rt.engine))
        result = self.verify_audit_chain()
        problems += [f"audit: {p}" for p in result.problems]
        with self.rt.transaction() as s:
            for ds in s.execute(select(Dataset).where(Dataset.deleted_at.is_(None))).scalars():
                for path, purpose, sha in ((ds.table_path, "table.train", ds.table_sha256),
                                           (ds.control_path, "table.control", ds.control_sha256)):
                    try:
                        self.rt.vault.read_encrypted(ds, path, purpose, sha)
                    except (OSError, SynthgenError) as exc:
                        problems.append(f"dataset {ds.id} {purpose}: {type(exc).__name__}")
            for rel in s.execute(select(Release).where(Release.artifacts_json.is_not(None))).scalars():
                ds = s.get(Dataset, rel.dataset_id)
                if ds.deleted_at is not None:
                    continue
                for name in json.loads(rel.artifacts_json):
                    try:
                        self.rt.vault.read_artifact(s, rel, name)
                    except (OSError, SynthgenError) as exc:
                        problems.append(f"release {rel.id} {name}: {type(exc).__name__}")
        return problems

    def referenced_files(self) -> set[Path]:
        """Every file under the data directory that the database refers to."""
        out: set[Path] = set()
        with self.rt.transaction() as s:
            for ds in s.execute(select(Dataset).where(Dataset.deleted_at.is_(None))).scalars():
                out.update(self.rt.vault.path(p) for p in (ds.table_path, ds.control_path) if p)
            for (art,) in s.execute(select(Release.artifacts_json).where(Release.artifacts_json.is_not(None))):
                out.update(self.rt.vault.path(m["path"]) for m in json.loads(art).values())
        return out

    def sweep_orphans(self, min_age: timedelta = timedelta(hours=1)) -> int:
        """Remove files under datasets/ and releases/ that no committed row refers to (left by a
        crash between writing a file and committing its row) once older than ``min_age``."""
        keep = self.referenced_files()
        cutoff = time.time() - min_age.total_seconds()
        removed = 0
        for top in ("datasets", "releases"):
            root = self.rt.settings.data_dir / top
            if not root.exists():
                continue
            for path in sorted(root.rglob("*"), reverse=True):
                try:
                    if path.is_file() and path.resolve() not in keep and path.stat().st_mtime <= cutoff:
                        path.unlink()
                        removed += 1
                    elif path.is_dir() and not any(path.iterdir()):
                        path.rmdir()
                except FileNotFoundError:
                    pass
        return removed
