"""Schemas of datasets: the owner's reviewed schema, a draft read off the private table (shown to
the owner only), and a schema discovered with differential privacy (paid from the budget).

Rules kept here:

* A schema is the only free knowledge about a table; anything read off the private table is
  flagged ``derived_from_private_data`` and can be used for a release only after the owner
  reviewed it and cleared the flag.
* DP discovery is paid like a release: reserved and marked spent, and committed, *before* the
  private table is read, so the spend stays on the ledger whatever happens next.
* The public declarations of a discovery are validated before any budget is touched.
* Top-k categories chosen with DP (``select_top_k``) are paid and audited like a discovery.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from app.core import ledger
from app.core.services import schema_reviews, views
from app.core.services.inputs import require_table
from app.core.services.types import Actor, DatasetInfo, DraftSchema
from synthgen.budget import PrivacyBudget
from synthgen.errors import InvalidInputError, SchemaError

if TYPE_CHECKING:
    from app.core.services.runtime import Runtime


def top_k_not_chosen(dataset_id: int, columns: list[str]) -> str:
    """Why a release of a schema with top-k columns still to choose is refused, and the way on."""
    return (f"dataset {dataset_id}'s schema declares top_k for column(s) {', '.join(map(repr, columns))} whose "
            "categories are not chosen yet: the owner chooses them first with 'Choose top-k categories (spends ε)' "
            "in the schema section of the Datasets page (or 'synthgen schema top-k'), then saves the draft as "
            "reviewed")


def check_schema_columns(schema, columns: list[str]) -> None:
    """The schema declares exactly the table's columns."""
    missing = [n for n in schema.names if n not in columns]
    if missing:
        raise SchemaError(f"the table has no column {missing[0]!r} declared in the schema")
    extra = [n for n in columns if n not in schema.names]
    if extra:
        raise SchemaError(f"column {extra[0]!r} is in the table but not in the schema")


class Schemas:
    def __init__(self, rt: "Runtime"):
        self.rt = rt

    def draft_schema(self, actor: Actor, dataset_id: int) -> DraftSchema:
        """Draft a schema from the private table (owner/view_raw only). The result is flagged
        derived_from_private_data and is NOT stored."""
        from synthgen.draft import draft_schema as _draft

        with self.rt.op(actor, "view_raw", f"dataset:{dataset_id}") as op:
            ds = self.rt.authorize_dataset(op, "view_raw", dataset_id)
            require_table(ds, "draft a schema from its data")
            train, _control = self.rt.vault.load_tables(ds)
            schema = _draft(train, name=ds.name)
            op.details["purpose"] = "draft_schema"
            return DraftSchema(schema_json=schema.to_json(),
                               derived_from_private_data=bool(schema.to_dict().get("derived_from_private_data", True)))

    @staticmethod
    def _discovery_inputs(columns: list[str], numeric: dict[str, Any] | None, identifiers: Any, bins: Any):
        """Validate the public declarations of a DP discovery before any budget is touched."""
        from synthgen.discovery import NumericSpec

        if numeric is None:
            numeric = {}
        if not isinstance(numeric, dict):
            raise InvalidInputError("numeric must map column names to their public bounds {lower, upper, integer}")
        identifiers = list(identifiers or [])
        if isinstance(bins, bool) or not isinstance(bins, int) or not 2 <= bins <= 64:
            raise InvalidInputError(f"bins ({bins!r}) must be an integer between 2 and 64")
        specs: dict[str, NumericSpec] = {}
        for name, spec in numeric.items():
            if name not in columns:
                raise InvalidInputError(f"numeric column ({str(name)[:60]!r}) must be a column of the table")
            if isinstance(spec, NumericSpec):
                specs[name] = spec
                continue
            if not isinstance(spec, dict) or set(spec) - {"lower", "upper", "integer"}:
                raise InvalidInputError(f"numeric[{name!r}] must be an object with lower, upper and optional integer")
            integer = spec.get("integer", True)
            if not isinstance(integer, bool):
                raise InvalidInputError(f"numeric[{name!r}].integer ({integer!r}) must be true or false")
            bounds = []
            for key in ("lower", "upper"):
                value = spec.get(key)
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value \
                        or value in (float("inf"), float("-inf")):
                    raise InvalidInputError(f"numeric[{name!r}].{key} ({value!r}) must be a finite number "
                                            "(a public bound, not one read off the data)")
                if integer and value != int(value):
                    raise InvalidInputError(f"numeric[{name!r}].{key} ({value!r}) must be a whole number for an "
                                            "integer column")
                bounds.append(int(value) if integer else float(value))
            specs[name] = NumericSpec(bounds[0], bounds[1], integer)
        for name in identifiers:
            if not isinstance(name, str) or name not in columns:
                raise InvalidInputError(f"identifier column ({str(name)[:60]!r}) must be a column of the table")
            if name in specs:
                raise InvalidInputError(f"column {name!r} must not be both numeric and an identifier")
        if len(set(identifiers)) == len(columns):
            raise InvalidInputError("there is nothing to discover: every column is declared an identifier")
        return specs, identifiers

    def discover_schema(self, actor: Actor, dataset_id: int, epsilon: float, *,
                        numeric: dict[str, Any] | None = None, identifiers: list[str] | tuple[str, ...] | None = None,
                        bins: int = 8, privacy_unit: dict[str, Any] | None = None) -> DatasetInfo:
        """Release a schema of the dataset with differential privacy (``synthgen.discovery``) and
        store it as a draft for the owner to review (``DatasetInfo.schema_draft_json``).

        The owner declares only public facts: which columns are ``numeric`` (with public bounds
        ``{"lower", "upper", "integer"}``) and which are ``identifiers``; every other column is
        categorical and its categories are released by OpenDP's key thresholding, numeric bin
        cuts by DP quantiles.

        Privacy accounting, exactly like a release: ``epsilon`` at the dataset's δ is converted
        to ρ and reserved in the dataset's ledger under the dataset's lock (overspending raises
        the ledger's :class:`BudgetExceededError` and writes nothing), then marked spent and
        committed *before* the private table is read, so the spend stays on the ledger whatever
        happens next (an error that depends on the noisy output, a crash). Key thresholding
        also needs a δ: it uses the dataset's δ, recorded in the audit entry and the draft's notes.

        Privacy unit: ``privacy_unit`` (``{"person_column", "max_rows"}``) or, by default, the
        one the dataset's current schema declares; discovery measures with that unit's
        contributions, since the budget it is charged to protects that unit.

        Audit: one ``discover_schema`` entry when the budget is charged (stage ``charged``: ε,
        δ, ρ, ledger entry), one when the draft is stored (stage ``stored``) or, if the
        computation fails, a failed entry (stage ``computing``)."""
        from synthgen.discovery import discover_schema as _discover

        target = f"dataset:{dataset_id}"
        with self.rt.op(actor, "discover_schema", target) as op:
            ds = self.rt.authorize_dataset(op, "discover_schema", dataset_id)
            require_table(ds, "discover a schema")
            specs, identifiers = self._discovery_inputs(json.loads(ds.columns_json), numeric, identifiers, bins)
            unit = self._discovery_unit(ds, privacy_unit, json.loads(ds.columns_json), specs)
            if unit.person_column is not None and unit.person_column not in identifiers:
                identifiers = [*identifiers, unit.person_column]  # a person id is never measured
            cost = PrivacyBudget.from_epsilon(epsilon, ds.delta)
            # key thresholding's δ is not part of ρ: the ledger records it beside the ρ
            entry = ledger.reserve(op.session, ds.id, cost, None, extra_delta=ds.delta)
            ledger.mark_spent(op.session, entry.id)
            entry_id, actor_name = entry.id, op.actor_name
            op.details.update(stage="charged", epsilon=float(epsilon), delta=ds.delta, rho=cost.rho,
                              threshold_delta=ds.delta, ledger_entry=entry_id, numeric=len(specs),
                              identifiers=len(identifiers), bins=bins, contributions=unit.max_rows)
        # Committed: the budget is spent from here on, whatever happens below.
        try:
            # discovery itself asks OpenDP for a hair less than ``cost`` (synthgen._opendp.SLACK)
            train, _control = self.rt.vault.load_tables(ds)
            schema, accounting = _discover(train, numeric=specs, identifiers=identifiers, budget=cost,
                                           delta=ds.delta, bins=bins, name=ds.name, privacy_unit=unit)
            del train, _control
        except BaseException as exc:
            if not isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit)):
                self.rt.record(actor=actor_name, action="discover_schema", outcome="failed", target=target,
                            details={"stage": "computing", "error": type(exc).__name__, "dataset_id": ds.id,
                                     "ledger_entry": entry_id, "rho": cost.rho})
            raise
        with self.rt.op(actor, "discover_schema", target) as op:
            ds = self.rt.authorize_dataset(op, "discover_schema", dataset_id)
            require_table(ds, "discover a schema")
            ds.schema_draft_json = schema.to_json()
            op.details.update(stage="stored", ledger_entry=entry_id, rho_charged=cost.rho, rho_used=accounting["rho"],
                              delta_used=accounting["delta"], queries=accounting["queries"],
                              fingerprint=schema.fingerprint()[:64])
            return views.dataset_info(op.session, ds)

    def select_top_k(self, actor: Actor, dataset_id: int, epsilon: float, *,
                     columns: dict[str, int] | None = None) -> DatasetInfo:
        """Choose the categories of the current schema's top-k columns with DP
        (``synthgen.topk_select``) and store the result as a draft for the owner to save.

        ``columns`` (name → k) declares top-k columns; by default every declared top-k not yet
        selected is. Charged exactly like a discovery, with the same permission: ``epsilon`` at
        the dataset's δ is reserved and marked spent (plus the dataset's δ for key thresholding)
        and committed *before* the private table is read; the columns and k (public) are
        checked before any budget is touched. Audit: ``discover_schema`` entries with
        ``purpose`` ``top_k`` (stage ``charged``, then ``stored`` or a failed ``computing``)."""
        from synthgen.schema import Schema
        from synthgen.topk_select import check_epsilon, select_top_k, top_k_columns

        target = f"dataset:{dataset_id}"
        with self.rt.op(actor, "discover_schema", target) as op:
            ds = self.rt.authorize_dataset(op, "discover_schema", dataset_id)
            require_table(ds, "select top-k categories")
            if not ds.schema_json:
                raise InvalidInputError("the dataset has no schema declaring top_k columns; save one first")
            schema = Schema.from_json(ds.schema_json)
            check_epsilon(epsilon)
            wanted = top_k_columns(schema, columns)
            cost = PrivacyBudget.from_epsilon(epsilon, ds.delta)
            # key thresholding's δ is not part of ρ: the ledger records it beside the ρ
            entry = ledger.reserve(op.session, ds.id, cost, None, extra_delta=ds.delta)
            ledger.mark_spent(op.session, entry.id)
            entry_id, actor_name = entry.id, op.actor_name
            op.details.update(purpose="top_k", stage="charged", epsilon=float(epsilon), delta=ds.delta, rho=cost.rho,
                              threshold_delta=ds.delta, ledger_entry=entry_id, columns=len(wanted),
                              contributions=schema.privacy_unit.max_rows)
        # Committed: the budget is spent from here on, whatever happens below.
        try:
            train, _control = self.rt.vault.load_tables(ds)
            chosen, accounting = select_top_k(train, schema, epsilon=float(epsilon), delta=ds.delta, columns=wanted)
            del train, _control
        except BaseException as exc:
            if not isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit)):
                self.rt.record(actor=actor_name, action="discover_schema", outcome="failed", target=target,
                               details={"purpose": "top_k", "stage": "computing", "error": type(exc).__name__,
                                        "dataset_id": ds.id, "ledger_entry": entry_id, "rho": cost.rho})
            raise
        with self.rt.op(actor, "discover_schema", target) as op:
            ds = self.rt.authorize_dataset(op, "discover_schema", dataset_id)
            require_table(ds, "select top-k categories")
            ds.schema_draft_json = chosen.to_json()
            op.details.update(purpose="top_k", stage="stored", ledger_entry=entry_id, rho_charged=cost.rho,
                              rho_used=sum(c["rho"] for c in accounting["columns"].values()),
                              fingerprint=chosen.fingerprint()[:64])
            return views.dataset_info(op.session, ds)

    @staticmethod
    def _discovery_unit(ds, privacy_unit: Any, columns: list[str], specs: dict[str, Any]):
        """The privacy unit a discovery measures with (validated before any budget is touched)."""
        from synthgen.schema import PrivacyUnit

        if privacy_unit is None:
            declared = json.loads(ds.schema_json).get("privacy_unit") if ds.schema_json else None
            privacy_unit = declared or {}
        if not isinstance(privacy_unit, dict) or set(privacy_unit) - {"person_column", "max_rows"}:
            raise InvalidInputError("privacy_unit must be an object with person_column and max_rows")
        unit = PrivacyUnit(**privacy_unit)
        if unit.person_column is not None and (unit.person_column not in columns or unit.person_column in specs):
            raise InvalidInputError(f"privacy_unit.person_column ({str(unit.person_column)[:60]!r}) must be a "
                                    "non-numeric column of the table")
        return unit

    def discard_schema_draft(self, actor: Actor, dataset_id: int) -> DatasetInfo:
        """Forget the stored DP-discovered draft (its budget stays spent)."""
        with self.rt.op(actor, "discard_schema_draft", f"dataset:{dataset_id}") as op:
            ds = self.rt.authorize_dataset(op, "edit_schema", dataset_id)
            require_table(ds, "change its schema")
            op.details["had_draft"] = ds.schema_draft_json is not None
            ds.schema_draft_json = None
            return views.dataset_info(op.session, ds)

    def update_schema(self, actor: Actor, dataset_id: int, schema_json: str, *, clear_draft: bool = False,
                      reviewed: bool | None = None, draft_json: str | None = None) -> DatasetInfo:
        """Store the owner's schema (validated, must match the table's columns).

        Saving a schema that is not flagged ``derived_from_private_data`` is the review act: it
        is recorded (:mod:`app.core.services.schema_reviews`) with the reviewer, the time, what
        it started from and the fields changed. ``clear_draft``: the owner reviewed the stored
        DP-discovered draft into this schema (the draft is removed); ``draft_json``: the draft
        read off the private table that the owner started from (``draft_schema``), so the
        record can say what they changed. ``reviewed``: the owner's explicit statement that every
        column was reviewed (the dashboard's tick); it sets ``derived_from_private_data`` whatever
        the JSON says, so a draft can never become "reviewed" by carrying an old flag along. None
        keeps the JSON's own flag (files written and reviewed by hand, CLI, API)."""
        from synthgen.draft import draft_schema
        from synthgen.schema import Schema

        with self.rt.op(actor, "edit_schema", f"dataset:{dataset_id}") as op:
            ds = self.rt.authorize_dataset(op, "edit_schema", dataset_id)
            require_table(ds, "change its schema")
            if not isinstance(schema_json, str):
                raise InvalidInputError("schema_json must be JSON text")
            if reviewed is not None and not isinstance(reviewed, bool):
                raise InvalidInputError(f"reviewed ({reviewed!r}) must be true, false or None")
            if draft_json is not None and not isinstance(draft_json, str):
                raise InvalidInputError("draft_json must be JSON text or None")
            schema = Schema.from_json(schema_json)
            if reviewed is not None:
                schema = Schema.from_dict({**schema.to_dict(), "derived_from_private_data": not reviewed})
            check_schema_columns(schema, json.loads(ds.columns_json))
            if clear_draft and ds.schema_draft_json:
                source, draft = "dp_discovery", Schema.from_json(ds.schema_draft_json)
            elif draft_json is not None:
                source, draft = "private_draft", Schema.from_json(draft_json)
            elif ds.schema_json:
                source, draft = "previous_schema", Schema.from_json(ds.schema_json)
            else:
                source, draft = "none", None
            ds.schema_json = schema.to_json()
            if clear_draft:
                ds.schema_draft_json = None
            reviewed = not schema.derived_from_private_data
            op.details.update(fingerprint=schema.fingerprint()[:64], cleared_draft=bool(clear_draft),
                              derived_from_private_data=not reviewed)
            if reviewed:
                # the table's own draft, so the record can say which values equal the table's
                train, _control = self.rt.vault.load_tables(ds)
                private_draft = draft_schema(train, name=ds.name)
                del train, _control
                review = schema_reviews.record(op.session, dataset_id=ds.id, reviewer_id=op.user.id, schema=schema,
                                               source=source, draft=draft, private_draft=private_draft,
                                               now=self.rt.now())
                changes = json.loads(review.changes_json)
                op.details.update(schema_review=review.id, source=source, fields_changed=len(changes["changed"]),
                                  fields_equal_to_private_table=len(changes["equal_to_private_table"]))
            return views.dataset_info(op.session, ds)

    def schema_review(self, actor: Actor, dataset_id: int) -> dict[str, Any] | None:
        """The review act of the dataset's current schema (None: not reviewed), for the data
        owner and the privacy officers reviewing the dataset (``view_risk_report``)."""
        with self.rt.op(actor, "view_schema_review", f"dataset:{dataset_id}", audit=False) as op:
            ds = self.rt.authorize_dataset(op, "view_risk_report", dataset_id)
            review = schema_reviews.for_schema_json(op.session, ds.id, ds.schema_json)
            return schema_reviews.full_record(op.session, review) if review is not None else None
