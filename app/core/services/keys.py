"""Keys and encrypted files: the master key, each dataset's data key, the files under the data
directory, and key rotation.

Rules kept here:

* Every stored table and artifact is encrypted under its dataset's data key (AES-GCM, the
  dataset id and the file's purpose as associated data); data keys are stored only wrapped
  under the master key, and deleting a dataset destroys its wrapped key (crypto-shredding).
* Stored paths never leave the data directory (:meth:`Vault.path`).
* A file is checked against its recorded SHA-256 before it is decrypted.
* A rotation writes the new key beside the old one (``.new``) before the rewrapped keys commit,
  and swaps it in after; :func:`load_master` finishes or forgets a rotation a crash interrupted.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core import crypto
from app.core.config import Settings
from app.core.services.inputs import sha256_hex
from app.core.services.types import Actor, NotFoundError
from app.core.store import Dataset, Release
from synthgen.errors import InternalError, InvalidInputError
from synthgen.io import atomic_write_bytes

if TYPE_CHECKING:
    import pandas as pd

    from app.core.services.runtime import Runtime


def _pending_file(settings: Settings) -> Path:
    return settings.master_key_file.with_name(settings.master_key_file.name + ".new")


def load_master(settings: Settings, engine) -> tuple[crypto.MasterKey, str]:
    """Load the master key; finish a key rotation that crashed between commit and rename."""
    pending = _pending_file(settings)
    if settings.master_key_env is None and pending.exists():
        new = crypto.MasterKey.from_b64(pending.read_text(encoding="ascii"), source="pending master key")
        with engine.connect() as conn:
            used = {r[0] for r in conn.execute(select(Dataset.master_key_id).where(
                Dataset.wrapped_data_key.is_not(None)))}
            conn.rollback()
        if new.key_id in used:  # the rotation committed: finish the swap
            os.replace(pending, settings.master_key_file)
        else:  # the rotation did not commit: forget the new key
            pending.unlink()
    return crypto.load_master_key(settings.master_key_env, settings.master_key_file, settings.data_dir,
                                  create=settings.create_keys)


class Vault:
    """The master key of this process and the encrypted files under the data directory."""

    def __init__(self, settings: Settings, master: crypto.MasterKey):
        self.settings = settings
        self.master = master

    def master_key(self, wanted_key_id: str | None = None) -> crypto.MasterKey:
        """The loaded master key; reloaded when another process rotated it meanwhile."""
        if wanted_key_id is None or wanted_key_id == self.master.key_id:
            return self.master
        candidates = []
        try:
            candidates.append(crypto.load_master_key(self.settings.master_key_env, self.settings.master_key_file,
                                                     self.settings.data_dir, create=False)[0])
        except crypto.KeyConfigError:
            pass
        pending = _pending_file(self.settings)
        if pending.exists():
            try:
                candidates.append(crypto.MasterKey.from_b64(pending.read_text(encoding="ascii")))
            except (OSError, crypto.KeyConfigError):
                pass
        for key in candidates:
            if key.key_id == wanted_key_id:
                self.master = key
                return key
        return self.master  # unwrap will fail with a clear message

    def data_key(self, ds: Dataset) -> bytes:
        if ds.wrapped_data_key is None:
            raise NotFoundError(f"dataset {ds.id} was deleted; its data key was destroyed")
        wrapped = ds.wrapped_data_key
        return crypto.unwrap_data_key(self.master_key(crypto.wrapped_key_id(wrapped)), wrapped, str(ds.id))

    def path(self, relative: str) -> Path:
        """The absolute path of a stored file; refuses a path that leaves the data directory."""
        path = (self.settings.data_dir / relative).resolve()
        if not path.is_relative_to(self.settings.data_dir.resolve()):
            raise InternalError(f"stored path {relative!r} leaves the data directory")
        return path

    def read_encrypted(self, ds: Dataset, relative: str, purpose: str, expected_sha256: str | None = None) -> bytes:
        blob = self.path(relative).read_bytes()
        if expected_sha256 is not None and sha256_hex(blob) != expected_sha256:
            raise crypto.DecryptionError(f"{purpose} file of dataset {ds.id} does not match its recorded SHA-256")
        return crypto.decrypt(self.data_key(ds), blob, str(ds.id), purpose)

    def write_encrypted(self, ds: Dataset, relative: str, purpose: str, plaintext: bytes, *,
                        data_key: bytes | None = None) -> str:
        """Encrypt and write temp-file → fsync → rename; returns the SHA-256 of the ciphertext."""
        blob = crypto.encrypt(data_key or self.data_key(ds), plaintext, str(ds.id), purpose)
        atomic_write_bytes(self.path(relative), blob, mode=0o600)
        return sha256_hex(blob)

    def load_tables(self, ds: Dataset) -> "tuple[pd.DataFrame, pd.DataFrame]":
        """(train, control) DataFrames, decrypted in memory only."""
        from synthgen.io import read_parquet_bytes

        train = read_parquet_bytes(self.read_encrypted(ds, ds.table_path, "table.train", ds.table_sha256), "train")
        control = read_parquet_bytes(self.read_encrypted(ds, ds.control_path, "table.control", ds.control_sha256),
                                     "control")
        return train, control

    @staticmethod
    def artifacts(rel: Release) -> dict[str, dict[str, Any]]:
        """The artifact records of an evaluated release (file name -> path, purpose, hashes, size)."""
        artifacts = json.loads(rel.artifacts_json or "{}")
        if not artifacts:
            raise InvalidInputError(f"release {rel.id} has no artifacts yet: it is {rel.state!r}")
        return artifacts

    def read_artifact(self, s: Session, rel: Release, name: str) -> bytes:
        """Decrypt one artifact and check its recorded SHA-256 (ciphertext and plaintext)."""
        meta = self.artifacts(rel).get(name)
        if meta is None:
            raise NotFoundError(f"release {rel.id} has no file {name!r}")
        ds = s.get(Dataset, rel.dataset_id)
        data = self.read_encrypted(ds, meta["path"], meta["purpose"], meta["cipher_sha256"])
        if sha256_hex(data) != meta["sha256"]:
            raise crypto.DecryptionError(f"file {name!r} of release {rel.id} does not match its recorded SHA-256")
        return data


class KeyService:
    """Key rotation (``rotate_keys``, administrators)."""

    def __init__(self, rt: "Runtime"):
        self.rt = rt

    def rotate_keys(self, actor: Actor, new_master_key_b64: str | None = None) -> str:
        """Rewrap every data key under a new master key. With a key file the new key is
        generated and swapped in atomically; with SYNTHGEN_MASTER_KEY pass the new key and
        update the environment afterwards. Returns a message for the operator."""
        settings, vault = self.rt.settings, self.rt.vault
        from_env = settings.master_key_env is not None
        pending = _pending_file(settings)
        with self.rt.op(actor, "rotate_keys", "keys") as op:
            self.rt.authorize(op, "rotate_keys")
            if new_master_key_b64 is not None:
                new = crypto.MasterKey.from_b64(new_master_key_b64, source="new master key")
            elif from_env:
                raise InvalidInputError("the master key comes from SYNTHGEN_MASTER_KEY: pass the new key "
                                        "(base64 of 32 random bytes) to rotate it")
            else:
                new = crypto.MasterKey.generate()
            old = vault.master
            if new.key_id == old.key_id:
                raise InvalidInputError("the new master key must differ from the current one")
            if not from_env:
                crypto.write_secret_file(pending, new.to_b64() + "\n")
                op.on_rollback.append(lambda: pending.unlink(missing_ok=True))
            count = 0
            for ds in op.session.execute(select(Dataset).where(Dataset.wrapped_data_key.is_not(None))).scalars():
                old_for_ds = vault.master_key(crypto.wrapped_key_id(ds.wrapped_data_key))
                ds.wrapped_data_key = crypto.rewrap(old_for_ds, new, ds.wrapped_data_key, str(ds.id))
                ds.master_key_id = new.key_id
                count += 1
            op.details.update(old_key_id=old.key_id, new_key_id=new.key_id, datasets=count)
        # committed: swap the key file in
        if not from_env:
            os.replace(pending, settings.master_key_file)
            dfd = os.open(settings.master_key_file.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        vault.master = new
        if from_env:
            return (f"rewrapped {count} data keys under master key {new.key_id}; set SYNTHGEN_MASTER_KEY to the new "
                    "key for every process before restarting them")
        return f"rewrapped {count} data keys under a new master key {new.key_id} written to {settings.master_key_file}"
