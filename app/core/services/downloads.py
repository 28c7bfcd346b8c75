"""Downloads of approved and published releases: the synthetic table (CSV, Parquet), the ML-team
card, the manifest and the bundle; in memory or streamed.

Rules kept here:

* Only releases in ``DOWNLOADABLE`` states (approved, published) are downloadable; the matrix
  denies ``download_unapproved`` to every role. A published release whose publication window
  (set from its dataset's classification) has ended is refused, even before the sweep revokes it.
* Only files marked public leave: never the full card or the risk report.
* Every download is audited with its format and SHA-256; a stored file that does not match its
  recorded SHA-256 is refused before a byte leaves, and audited as a failed download.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from app.core import crypto
from app.core.bundle import FORMAT_FILES, build_bundle, build_manifest, download_name, manifest_bytes
from app.core.releases import DOWNLOADABLE
from app.core.services import schema_reviews
from app.core.services.inputs import sha256_hex
from app.core.services.runtime import Operation
from app.core.services.types import Actor, Download, DownloadFormat, NotFoundError
from app.core.store import Dataset, Release, User
from app.core.streaming import ArtifactIntegrityError, DownloadStream, check_ciphertext
from synthgen.errors import ConflictError, InternalError, InvalidInputError

if TYPE_CHECKING:
    from app.core.services.runtime import Runtime


class Downloads:
    def __init__(self, rt: "Runtime"):
        self.rt = rt

    def _downloadable(self, op: Operation, release_id: int) -> Release:
        rel = self.rt.release(op.session, release_id)
        op.details.update(dataset_id=rel.dataset_id, release_id=rel.id)
        if rel.state in DOWNLOADABLE:
            self.rt.authorize(op, "download_approved", rel.dataset_id)
            if rel.expires_at is not None and rel.expires_at <= self.rt.now():
                # the window set by the dataset's label ended; the worker's sweep revokes it soon,
                # and nothing is served meanwhile
                raise ConflictError(f"release {rel.id}'s publication window ended at {rel.expires_at:%Y-%m-%d %H:%M} "
                                    "UTC; ask for a new release")
        else:
            self.rt.authorize(op, "download_unapproved", rel.dataset_id)  # denied for every role
            raise InternalError("download_unapproved was allowed by the matrix")
        return rel

    def _manifest(self, s: Session, rel: Release) -> dict[str, Any]:
        ds = s.get(Dataset, rel.dataset_id)
        review = schema_reviews.for_schema_json(s, rel.dataset_id, rel.schema_json)
        return build_manifest(rel, dataset_name=ds.name, requester=s.get(User, rel.requester_id).username,
                              approver=s.get(User, rel.approver_id).username if rel.approver_id else None,
                              second_approver=s.get(User, rel.second_approver_id).username
                              if rel.second_approver_id else None,
                              classification=ds.classification,
                              schema_review=schema_reviews.public_record(s, review) if review is not None else None)

    def download(self, actor: Actor, release_id: int, fmt: DownloadFormat = "bundle") -> Download:
        """Approved or published releases only: ``csv``/``parquet`` synthetic table, ``card``
        (ML-team card HTML), ``manifest`` (JSON) or ``bundle`` (zip of all of them)."""
        with self.rt.op(actor, "download", f"release:{release_id}") as op:
            if fmt not in ("csv", "parquet", "card", "manifest", "bundle"):
                raise InvalidInputError(f"format ({str(fmt)[:20]!r}) must be csv, parquet, card, manifest or bundle")
            rel = self._downloadable(op, release_id)
            s = op.session
            manifest = self._manifest(s, rel)
            if fmt == "manifest":
                data, media = manifest_bytes(manifest), "application/json"
            elif fmt == "bundle":
                files = {name: self.rt.vault.read_artifact(s, rel, name) for name in manifest["files"]}
                data, media = build_bundle(files, manifest), "application/zip"
            else:
                name, media = FORMAT_FILES[fmt]
                data = self.rt.vault.read_artifact(s, rel, name)
            op.details.update(format=fmt, sha256=sha256_hex(data))
            return Download(filename=download_name(rel.id, fmt), data=data, sha256=sha256_hex(data), media_type=media)

    def open_download(self, actor: Actor, release_id: int, fmt: str = "parquet") -> "DownloadStream":
        """A streamed download of an approved or published release's ``csv``, ``parquet`` or
        ``card`` file: an :class:`app.core.streaming.DownloadStream` to iterate (64 KiB chunks,
        decrypted as they are read) with ``filename``, ``media_type``, ``sha256`` and ``size``.

        Authorized and audited like :meth:`download` (one ``download`` entry with the format and
        the SHA-256, ``streamed: true``). The stored ciphertext is checked against its recorded
        SHA-256 before the entry is written and before any byte is handed out: a tampered file
        raises :class:`app.core.streaming.ArtifactIntegrityError` and is audited as a failed
        download. The GCM tag and the plaintext SHA-256 are checked at the end of the iteration
        (a mismatch there raises and is audited too). Memory stays at a few MiB for any size."""
        target = f"release:{release_id}"
        with self.rt.op(actor, "download", target) as op:
            if fmt not in FORMAT_FILES:
                raise InvalidInputError(f"format ({str(fmt)[:20]!r}) must be csv, parquet or card for a streamed "
                                        "download (manifest and bundle: use download())")
            rel = self._downloadable(op, release_id)
            name, media = FORMAT_FILES[fmt]
            meta = self.rt.vault.artifacts(rel).get(name)
            if meta is None or not meta.get("public"):
                raise NotFoundError(f"release {rel.id} has no {fmt} file")
            ds = op.session.get(Dataset, rel.dataset_id)
            data_key = self.rt.vault.data_key(ds)
            fh = open(self.rt.vault.path(meta["path"]), "rb")  # noqa: SIM115 - closed by the stream (or on rollback)
            op.on_rollback.append(fh.close)
            op.details.update(format=fmt, sha256=meta["sha256"], via=actor.via, streamed=True)
            # Hashed inside the transaction so that a tampered file yields exactly one "failed"
            # entry and no "ok" one (on SQLite this holds the write lock for the read of the file:
            # about 0.1 s per 100 MB).
            nonce, tag = check_ciphertext(fh, plaintext_size=int(meta["size"]), cipher_sha256=meta["cipher_sha256"],
                                          release_id=rel.id)
            actor_name = op.actor_name

            def on_failure(exc: ArtifactIntegrityError) -> None:
                self.rt.record(actor=actor_name, action="download", outcome="failed", target=target,
                            details={"error": type(exc).__name__, "format": fmt, "release_id": release_id,
                                     "stage": "streaming"})

            def on_abort(sent: int) -> None:
                try:
                    self.rt.record(actor=actor_name, action="download", outcome="failed", target=target,
                                   details={"error": "aborted", "format": fmt, "release_id": release_id,
                                            "stage": "streaming", "bytes_sent": sent, "size": int(meta["size"])})
                except Exception:  # noqa: BLE001 - runs while the generator closes: never raise from here
                    pass

            media_type = "text/csv; charset=utf-8" if fmt == "csv" else media
            stream = DownloadStream(filename=download_name(rel.id, fmt), media_type=media_type, sha256=meta["sha256"],
                                    size=int(meta["size"]), release_id=rel.id, fmt=fmt, _fh=fh, _data_key=data_key,
                                    _aad=crypto.associated_data(str(ds.id), meta["purpose"]), _nonce=nonce, _tag=tag,
                                    _on_failure=on_failure, _on_abort=on_abort)
        return stream

    def manifest(self, actor: Actor, release_id: int) -> dict[str, Any]:
        """SHA-256 of every file, schema, synthesizer config, ε/δ/ρ, library versions, approval."""
        with self.rt.op(actor, "download", f"release:{release_id}") as op:
            rel = self._downloadable(op, release_id)
            op.details["format"] = "manifest"
            return self._manifest(op.session, rel)
