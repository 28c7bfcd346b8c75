"""Datasets: upload (validated, split, encrypted), listing, membership, deletion.

Rules kept here:

* An upload is validated before anything is stored (hostile files raise ``UploadRejected``
  with a user-facing message and store nothing); a failure after the files were written
  removes them (``on_rollback``).
* Both halves of the 70/30 train/control split are encrypted under a fresh data key; the row
  count is never part of a :class:`DatasetInfo`.
* Deleting a dataset crypto-shreds it: its wrapped data key is wiped in the same transaction
  that revokes (or fails) its releases; the files go after the commit.
"""

from __future__ import annotations

import json
import secrets
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from app.core import classification as classification_rules
from app.core import crypto
from app.core import releases as rel_sm
from app.core.authz import PermissionDeniedError, authorize
from app.core.services import schema_reviews, views
from app.core.services.inputs import NAME_MAX, clean_text
from app.core.services.schemas import check_schema_columns
from app.core.services.types import Actor, DatasetInfo
from app.core.store import Dataset, Job, Membership, Release
from synthgen.budget import PrivacyBudget
from synthgen.errors import ConflictError, InvalidInputError
from synthgen.io import table_to_bytes

if TYPE_CHECKING:
    from app.core.services.runtime import Runtime

CONTROL_FRACTION = 0.30
MIN_ROWS = 20


def check_name_free(s, name: str) -> None:
    """Dataset names are unique among live datasets (case and surrounding spaces ignored): the
    API and CLI find a dataset by name (``?dataset=NAME``), so two of one name would be
    ambiguous. The refusal tells an owner that a name is taken on the platform, never whose it
    is or anything else about that dataset."""
    wanted = name.strip().casefold()
    for (other,) in s.execute(select(Dataset.name).where(Dataset.deleted_at.is_(None))):
        if other.strip().casefold() == wanted:
            raise ConflictError(f"name: the platform already has a dataset named {name.strip()!r}; choose "
                                "another name (dataset names are unique)")


class Datasets:
    def __init__(self, rt: "Runtime"):
        self.rt = rt

    def upload_dataset(self, actor: Actor, filename: str, data: bytes, *, name: str,
                       budget_epsilon: float, delta: float, classification: str,
                       schema_json: str | None = None) -> DatasetInfo:
        """Validate (size/shape limits; hostile files raise UploadRejected with a user-facing
        message and store nothing), convert to Parquet, split 70/30 train/control with a seeded
        split, encrypt both under a fresh data key (AES-GCM, dataset id as associated data) and
        register the dataset with its lifetime budget (ε at δ) and its ``classification``
        (:mod:`app.core.classification`: the initial ε may not exceed the label's maximum; above
        it the owner asks for a budget raise that a privacy officer approves). The uploader becomes owner and
        member. ``schema_json``, if given, must be a reviewed schema matching the columns."""
        import numpy as np

        from app.core.uploads import validate_upload
        from synthgen.schema import Schema

        with self.rt.op(actor, "upload", "dataset:new") as op:
            if op.user is None:
                raise PermissionDeniedError("upload needs a signed-in user")
            # creating a dataset makes the uploader its owner: checked with scope "own"
            authorize(self.rt.matrix, role=op.user.role, action="upload", scope="own")
            name = clean_text(name, "name", max_len=NAME_MAX)
            check_name_free(op.session, name)
            label = classification_rules.check_label(classification)
            total = PrivacyBudget.from_epsilon(budget_epsilon, delta)
            classification_rules.check_initial_budget(label, budget_epsilon)
            op.details = {"name": name, "budget_epsilon": float(budget_epsilon), "delta": float(delta),
                          "classification": label}
            frame = validate_upload(filename, data, self.rt.upload_limits)
            if len(frame) < MIN_ROWS:
                raise InvalidInputError(f"the table must have at least {MIN_ROWS} rows to split off a control set")
            schema_text = None
            schema = private_draft = None
            if schema_json is not None:
                schema = Schema.from_json(schema_json)
                check_schema_columns(schema, [str(c) for c in frame.columns])
                schema_text = schema.to_json()
            frame = frame.reset_index(drop=True)
            columns = [str(c) for c in frame.columns]
            seed = secrets.randbits(31)
            perm = np.random.default_rng(seed).permutation(len(frame))
            n_control = max(1, int(round(len(frame) * CONTROL_FRACTION)))
            control = frame.iloc[np.sort(perm[:n_control])].reset_index(drop=True)
            train = frame.iloc[np.sort(perm[n_control:])].reset_index(drop=True)
            train_bytes = table_to_bytes(train, "parquet")
            control_bytes = table_to_bytes(control, "parquet")
            if schema is not None and not schema.derived_from_private_data:
                from synthgen.draft import draft_schema

                private_draft = draft_schema(train, name=name)  # to record what equals the table's own values
            del frame, train, control
            s = op.session
            storage = f"datasets/{secrets.token_hex(8)}"
            ds = Dataset(name=name, owner_id=op.user.id, columns_json=json.dumps(columns),
                         schema_json=schema_text, budget_rho_total=total.rho, delta=float(delta), created_at=self.rt.now(),
                         storage_dir=storage, split_seed=seed, classification=label)
            s.add(ds)
            s.flush()
            if schema is not None and not schema.derived_from_private_data:
                # the owner supplied this schema as reviewed: that is the review act
                schema_reviews.record(s, dataset_id=ds.id, reviewer_id=op.user.id, schema=schema, source="none",
                                      draft=None, private_draft=private_draft, now=self.rt.now())
            data_key = crypto.new_data_key()
            ds.wrapped_data_key = crypto.wrap_data_key(self.rt.vault.master, data_key, str(ds.id))
            ds.master_key_id = self.rt.vault.master.key_id
            directory = self.rt.vault.path(storage)
            op.on_rollback.append(lambda: shutil.rmtree(directory, ignore_errors=True))
            ds.table_path = f"{storage}/train.enc"
            ds.control_path = f"{storage}/control.enc"
            ds.table_sha256 = self.rt.vault.write_encrypted(ds, ds.table_path, "table.train", train_bytes, data_key=data_key)
            ds.control_sha256 = self.rt.vault.write_encrypted(ds, ds.control_path, "table.control", control_bytes,
                                                     data_key=data_key)
            s.add(Membership(dataset_id=ds.id, user_id=op.user.id, created_at=self.rt.now()))
            s.flush()
            op.target = f"dataset:{ds.id}"
            op.details.update(dataset_id=ds.id, columns=len(json.loads(ds.columns_json)),
                              format=Path(str(filename)).suffix.lower().lstrip(".")[:10],
                              schema_provided=schema_text is not None)
            return views.dataset_info(s, ds)

    def list_datasets(self, actor: Actor) -> list[DatasetInfo]:
        """Datasets the actor may see (members; every dataset for roles allowed 'other')."""
        with self.rt.op(actor, "list_datasets", "datasets", audit=False) as op:
            s = op.session
            out = []
            for ds in s.execute(select(Dataset).where(Dataset.deleted_at.is_(None)).order_by(Dataset.id)).scalars():
                if self.rt.allowed(s, op.user, "list_datasets", ds.id):
                    out.append(views.dataset_info(s, ds))
            return out

    def get_dataset(self, actor: Actor, dataset_id: int) -> DatasetInfo:
        with self.rt.op(actor, "view_dataset", f"dataset:{dataset_id}", audit=False) as op:
            ds = self.rt.authorize_dataset(op, "view_dataset", dataset_id)
            return views.dataset_info(op.session, ds)

    def _membership(self, actor: Actor, dataset_id: int, user_id: int, add: bool) -> DatasetInfo:
        with self.rt.op(actor, "add_member" if add else "remove_member", f"dataset:{dataset_id}") as op:
            self.rt.authorize(op, "manage_users")
            s = op.session
            ds = self.rt.dataset(s, dataset_id)
            u = self.rt.user(s, user_id)
            op.details = {"dataset_id": ds.id, "user_id": u.id, "role": u.role}
            row = s.get(Membership, (ds.id, u.id))
            if add and row is None:
                s.add(Membership(dataset_id=ds.id, user_id=u.id, created_at=self.rt.now()))
            elif not add and row is not None:
                if u.id == ds.owner_id:
                    raise InvalidInputError(f"user {u.username!r} owns dataset {ds.id} and must stay a member")
                s.delete(row)
            s.flush()
            return views.dataset_info(s, ds)

    def add_member(self, actor: Actor, dataset_id: int, user_id: int) -> DatasetInfo:
        return self._membership(actor, dataset_id, user_id, True)

    def remove_member(self, actor: Actor, dataset_id: int, user_id: int) -> DatasetInfo:
        return self._membership(actor, dataset_id, user_id, False)

    def delete_dataset(self, actor: Actor, dataset_id: int) -> None:
        """Crypto-shred: wipe the wrapped data key, remove the encrypted files, mark deleted.
        Its releases become unreadable and are revoked (or failed, if not evaluated yet)."""
        with self.rt.op(actor, "delete_dataset", f"dataset:{dataset_id}") as op:
            ds = self.rt.authorize_dataset(op, "delete_dataset", dataset_id)
            s = op.session
            now = self.rt.now()
            ds.deleted_at = now
            ds.wrapped_data_key = None
            for rel in s.execute(select(Release).where(Release.dataset_id == ds.id)).scalars():
                if rel.state in ("approved", "published"):
                    rel_sm.revoke(s, rel, reason="dataset deleted")
                elif rel.state in ("draft", "running"):
                    rel_sm.fail(s, rel, "dataset deleted")
                for job in s.execute(select(Job).where(Job.release_id == rel.id, Job.state.in_(("queued", "running")))).scalars():
                    job.state = "failed"
                    job.error = "dataset deleted"
                    job.finished_at = now
            directory = self.rt.vault.path(ds.storage_dir)
            release_dirs = [self.rt.vault.path(f"releases/{r}") for r in
                            s.execute(select(Release.id).where(Release.dataset_id == ds.id)).scalars()]
            op.after_commit.append(lambda: [shutil.rmtree(d, ignore_errors=True) for d in [directory, *release_dirs]])
