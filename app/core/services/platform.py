"""The facade the dashboard, the CLI and the HTTP API hold: one object that opens the runtime and
forwards each operation, with the same name and signature, to the service of its domain.

It adds nothing: every rule lives in the service (see :mod:`app.core.services`). New code may
use the services directly (``platform.releases.request_release(...)``); the worker uses the
runtime (``platform.runtime``) and :mod:`app.core.jobs`, never an underscore.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from sqlalchemy.orm import Session

from app.core import audit as audit_mod
from app.core import crypto
from app.core.config import Settings
from app.core.services.accounts import Accounts
from app.core.services.audit import AuditService
from app.core.services.budget import Budgets
from app.core.services.datasets import Datasets
from app.core.services.decisions import Decisions
from app.core.services.downloads import Downloads
from app.core.services.federated import Federated
from app.core.services.keys import KeyService
from app.core.services.maintenance import Maintenance
from app.core.services.releases import Releases
from app.core.services.runtime import Runtime
from app.core.services.schemas import Schemas
from app.core.services.tokens import ApiTokens
from app.core.services.types import (
    Actor,
    ApiTokenInfo,
    Audience,
    BudgetSummary,
    DatasetInfo,
    Download,
    DownloadFormat,
    DraftSchema,
    ReleaseInfo,
    SessionInfo,
    UserInfo,
)
from app.core.store import Dataset, Release

if TYPE_CHECKING:
    import pandas as pd

    from app.core.streaming import DownloadStream


class Platform:
    """Build it with :meth:`Platform.open`; thread-safe (each call uses its own DB session)."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self.accounts = Accounts(runtime)
        self.tokens = ApiTokens(runtime)
        self.datasets = Datasets(runtime)
        self.schemas = Schemas(runtime)
        self.budgets = Budgets(runtime)
        self.releases = Releases(runtime)
        self.federated = Federated(runtime)
        self.decisions = Decisions(runtime)
        self.downloads = Downloads(runtime)
        self.audit = AuditService(runtime)
        self.keys = KeyService(runtime)
        self.maintenance = Maintenance(runtime)

    @classmethod
    def open(cls, settings: Settings, *, migrate: bool = True) -> "Platform":
        """Open (and by default migrate to head) the database, load or (embedded default only)
        create the master and audit keys. ``platform.startup_messages`` says where generated keys
        were written."""
        return cls(Runtime.open(settings, migrate=migrate))

    def close(self) -> None:
        """Dispose of the engine."""
        self.runtime.close()

    def __enter__(self) -> "Platform":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- the runtime's public parts ------------------------------------------------------------
    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    @property
    def engine(self):
        return self.runtime.engine

    @property
    def startup_messages(self) -> list[str]:
        return self.runtime.startup_messages

    @property
    def matrix(self):
        return self.runtime.matrix

    @property
    def password_policy(self):
        return self.runtime.password_policy

    @property
    def session_policy(self):
        return self.runtime.session_policy

    @property
    def upload_limits(self):
        return self.runtime.upload_limits

    @upload_limits.setter
    def upload_limits(self, value) -> None:
        self.runtime.upload_limits = value

    @property
    def now(self) -> Callable[[], datetime]:
        """The clock every service reads (tests move it)."""
        return self.runtime.now

    @now.setter
    def now(self, value: Callable[[], datetime]) -> None:
        self.runtime.now = value

    def record(self, *, actor: str, action: str, outcome: str, target: str, details: dict[str, Any]) -> None:
        self.runtime.record(actor=actor, action=action, outcome=outcome, target=target, details=details)

    def master_key(self, wanted_key_id: str | None = None) -> crypto.MasterKey:
        return self.runtime.vault.master_key(wanted_key_id)

    def data_key(self, ds: Dataset) -> bytes:
        return self.runtime.vault.data_key(ds)

    def read_encrypted(self, ds: Dataset, relative: str, purpose: str, expected_sha256: str | None = None) -> bytes:
        return self.runtime.vault.read_encrypted(ds, relative, purpose, expected_sha256)

    def write_encrypted(self, ds: Dataset, relative: str, purpose: str, plaintext: bytes, *,
                        data_key: bytes | None = None) -> str:
        return self.runtime.vault.write_encrypted(ds, relative, purpose, plaintext, data_key=data_key)

    def load_tables(self, ds: Dataset) -> "tuple[pd.DataFrame, pd.DataFrame]":
        return self.runtime.vault.load_tables(ds)

    def read_artifact(self, s: Session, rel: Release, name: str) -> bytes:
        return self.runtime.vault.read_artifact(s, rel, name)

    # -- white-box access for tests written against the single-class Platform ------------------
    # (no application code uses these: tests/app_api/test_api_layering.py checks the API)
    @property
    def _factory(self):
        return self.runtime.factory

    @property
    def _audit_key(self) -> bytes:
        return self.runtime.trail.key

    def _path(self, relative: str) -> Path:
        return self.runtime.vault.path(relative)

    def _append_audit(self, s: Session, **entry: Any) -> audit_mod.AuditEntry:
        return self.runtime.append_audit(s, **entry)

    def _ensure_audit_head(self) -> None:
        self.runtime.trail.ensure_head(self.runtime.factory)

    # -- accounts ------------------------------------------------------------------------------
    def has_users(self) -> bool:
        return self.accounts.has_users()

    def create_first_admin(self, username: str, password: str | None = None) -> UserInfo:
        return self.accounts.create_first_admin(username, password)

    def login(self, username: str, password: str, *, source: str = "local") -> SessionInfo:
        return self.accounts.login(username, password, source=source)

    def login_oidc(self, issuer: str, subject: str, *, authenticated_at: datetime | None = None) -> SessionInfo:
        return self.accounts.login_oidc(issuer, subject, authenticated_at=authenticated_at)

    def actor_for_session(self, token: str) -> Actor:
        return self.accounts.actor_for_session(token)

    def logout(self, token: str) -> None:
        return self.accounts.logout(token)

    def create_user(self, actor: Actor, username: str, password: str | None, role: str, *,
                    oidc_issuer: str | None = None, oidc_subject: str | None = None) -> UserInfo:
        return self.accounts.create_user(actor, username, password, role, oidc_issuer=oidc_issuer, oidc_subject=oidc_subject)

    def link_oidc_identity(self, actor: Actor, user_id: int, issuer: str, subject: str) -> UserInfo:
        return self.accounts.link_oidc_identity(actor, user_id, issuer, subject)

    def unlink_oidc_identity(self, actor: Actor, user_id: int) -> UserInfo:
        return self.accounts.unlink_oidc_identity(actor, user_id)

    def list_users(self, actor: Actor) -> list[UserInfo]:
        return self.accounts.list_users(actor)

    def set_role(self, actor: Actor, user_id: int, role: str) -> UserInfo:
        return self.accounts.set_role(actor, user_id, role)

    def disable_user(self, actor: Actor, user_id: int) -> UserInfo:
        return self.accounts.disable_user(actor, user_id)

    def enable_user(self, actor: Actor, user_id: int) -> UserInfo:
        return self.accounts.enable_user(actor, user_id)

    def change_password(self, actor: Actor, old_password: str, new_password: str) -> None:
        return self.accounts.change_password(actor, old_password, new_password)

    # -- tokens --------------------------------------------------------------------------------
    def create_api_token(self, actor: Actor, ttl: timedelta = timedelta(days=30)) -> ApiTokenInfo:
        return self.tokens.create_api_token(actor, ttl)

    def list_api_tokens(self, actor: Actor) -> list[ApiTokenInfo]:
        return self.tokens.list_api_tokens(actor)

    def revoke_api_token(self, actor: Actor, token_id: int) -> None:
        return self.tokens.revoke_api_token(actor, token_id)

    def actor_for_api_token(self, token: str) -> Actor:
        return self.tokens.actor_for_api_token(token)

    # -- datasets ------------------------------------------------------------------------------
    def upload_dataset(self, actor: Actor, filename: str, data: bytes, *, name: str,
                       budget_epsilon: float, delta: float, classification: str,
                       schema_json: str | None = None) -> DatasetInfo:
        return self.datasets.upload_dataset(actor, filename, data, name=name, budget_epsilon=budget_epsilon, delta=delta,
                                            classification=classification, schema_json=schema_json)

    def list_datasets(self, actor: Actor) -> list[DatasetInfo]:
        return self.datasets.list_datasets(actor)

    def get_dataset(self, actor: Actor, dataset_id: int) -> DatasetInfo:
        return self.datasets.get_dataset(actor, dataset_id)

    def add_member(self, actor: Actor, dataset_id: int, user_id: int) -> DatasetInfo:
        return self.datasets.add_member(actor, dataset_id, user_id)

    def remove_member(self, actor: Actor, dataset_id: int, user_id: int) -> DatasetInfo:
        return self.datasets.remove_member(actor, dataset_id, user_id)

    def delete_dataset(self, actor: Actor, dataset_id: int) -> None:
        return self.datasets.delete_dataset(actor, dataset_id)

    # -- schemas -------------------------------------------------------------------------------
    def draft_schema(self, actor: Actor, dataset_id: int) -> DraftSchema:
        return self.schemas.draft_schema(actor, dataset_id)

    def discover_schema(self, actor: Actor, dataset_id: int, epsilon: float, *,
                        numeric: dict[str, Any] | None = None, identifiers: list[str] | tuple[str, ...] | None = None,
                        bins: int = 8, privacy_unit: dict[str, Any] | None = None) -> DatasetInfo:
        return self.schemas.discover_schema(actor, dataset_id, epsilon, numeric=numeric, identifiers=identifiers,
                                            bins=bins, privacy_unit=privacy_unit)

    def select_top_k(self, actor: Actor, dataset_id: int, epsilon: float, *,
                     columns: dict[str, int] | None = None) -> DatasetInfo:
        return self.schemas.select_top_k(actor, dataset_id, epsilon, columns=columns)

    def discard_schema_draft(self, actor: Actor, dataset_id: int) -> DatasetInfo:
        return self.schemas.discard_schema_draft(actor, dataset_id)

    def update_schema(self, actor: Actor, dataset_id: int, schema_json: str, *, clear_draft: bool = False,
                      reviewed: bool | None = None, draft_json: str | None = None) -> DatasetInfo:
        return self.schemas.update_schema(actor, dataset_id, schema_json, clear_draft=clear_draft, reviewed=reviewed,
                                          draft_json=draft_json)

    def schema_review(self, actor: Actor, dataset_id: int) -> dict[str, Any] | None:
        return self.schemas.schema_review(actor, dataset_id)

    # -- budgets -------------------------------------------------------------------------------
    def set_budget(self, actor: Actor, dataset_id: int, budget_epsilon: float) -> BudgetSummary:
        return self.budgets.set_budget(actor, dataset_id, budget_epsilon)

    def budget_summary(self, actor: Actor, dataset_id: int) -> BudgetSummary:
        return self.budgets.budget_summary(actor, dataset_id)

    def budget_history(self, actor: Actor, dataset_id: int) -> list[tuple[datetime, float]]:
        return self.budgets.budget_history(actor, dataset_id)
    def approve_budget_raise(self, actor: Actor, raise_id: int) -> BudgetSummary:
        return self.budgets.approve_budget_raise(actor, raise_id)

    def reject_budget_raise(self, actor: Actor, raise_id: int) -> BudgetSummary:
        return self.budgets.reject_budget_raise(actor, raise_id)

    # -- releases ------------------------------------------------------------------------------
    def register_federated(self, actor: Actor, filename: str, data: bytes, *, name: str,
                           classification: str) -> ReleaseInfo:
        return self.federated.register_federated(actor, filename, data, name=name, classification=classification)

    def request_release(self, actor: Actor, dataset_id: int, *, synthesizer: str, epsilon: float | None,
                        delta: float | None = None, rows: int | None = None, target: str | None = None,
                        policy: dict[str, Any] | None = None, config: dict[str, Any] | None = None) -> ReleaseInfo:
        return self.releases.request_release(actor, dataset_id, synthesizer=synthesizer, epsilon=epsilon, delta=delta, rows=rows, target=target, policy=policy, config=config)

    def retry_release(self, actor: Actor, release_id: int) -> ReleaseInfo:
        return self.releases.retry_release(actor, release_id)

    def list_releases(self, actor: Actor, *, dataset_id: int | None = None,
                      states: tuple[str, ...] | None = None) -> list[ReleaseInfo]:
        return self.releases.list_releases(actor, dataset_id=dataset_id, states=states)

    def find_visible_release(self, actor: Actor, release_id: int) -> ReleaseInfo | None:
        return self.releases.find_visible_release(actor, release_id)

    def get_release(self, actor: Actor, release_id: int) -> ReleaseInfo:
        return self.releases.get_release(actor, release_id)

    def get_release_card(self, actor: Actor, release_id: int, audience: Audience = "ml") -> str:
        return self.releases.get_release_card(actor, release_id, audience)

    def get_risk_report(self, actor: Actor, release_id: int) -> dict[str, Any]:
        return self.releases.get_risk_report(actor, release_id)

    # -- decisions -----------------------------------------------------------------------------
    def approve(self, actor: Actor, release_id: int, reason: str, *, override: bool = False,
                reason_code: str | None = None) -> ReleaseInfo:
        return self.decisions.approve(actor, release_id, reason, override=override, reason_code=reason_code)

    def reject(self, actor: Actor, release_id: int, reason: str) -> ReleaseInfo:
        return self.decisions.reject(actor, release_id, reason)

    def publish(self, actor: Actor, release_id: int) -> ReleaseInfo:
        return self.decisions.publish(actor, release_id)

    def revoke(self, actor: Actor, release_id: int, reason: str) -> ReleaseInfo:
        return self.decisions.revoke(actor, release_id, reason)

    def expire_publications(self) -> list[int]:
        return self.decisions.expire_publications()

    # -- downloads -----------------------------------------------------------------------------
    def download(self, actor: Actor, release_id: int, fmt: DownloadFormat = "bundle") -> Download:
        return self.downloads.download(actor, release_id, fmt)

    def open_download(self, actor: Actor, release_id: int, fmt: str = "parquet") -> "DownloadStream":
        return self.downloads.open_download(actor, release_id, fmt)

    def manifest(self, actor: Actor, release_id: int) -> dict[str, Any]:
        return self.downloads.manifest(actor, release_id)

    # -- audit ---------------------------------------------------------------------------------
    def audit_log(self, actor: Actor, *, action: str | None = None, actor_name: str | None = None,
                  target: str | None = None, since_seq: int | None = None, limit: int = 500,
                  outcomes: tuple[str, ...] | list[str] | None = None, newest: bool = False) -> list:
        return self.audit.audit_log(actor, action=action, actor_name=actor_name, target=target, since_seq=since_seq, limit=limit, outcomes=outcomes, newest=newest)

    def export_audit(self, actor: Actor, *, action: str | None = None, actor_name: str | None = None,
                     target: str | None = None, outcomes: tuple[str, ...] | list[str] | None = None,
                     since_seq: int | None = None, limit: int = 100_000, newest: bool = True) -> bytes:
        return self.audit.export_audit(actor, action=action, actor_name=actor_name, target=target, outcomes=outcomes, since_seq=since_seq, limit=limit, newest=newest)

    def verify_audit(self, actor: Actor):
        return self.audit.verify_audit(actor)

    # -- keys ----------------------------------------------------------------------------------
    def rotate_keys(self, actor: Actor, new_master_key_b64: str | None = None) -> str:
        return self.keys.rotate_keys(actor, new_master_key_b64)

    # -- maintenance ---------------------------------------------------------------------------
    def verify_audit_chain(self) -> audit_mod.VerificationResult:
        return self.maintenance.verify_audit_chain()

    def check_integrity(self) -> list[str]:
        return self.maintenance.check_integrity()

    def referenced_files(self) -> set[Path]:
        return self.maintenance.referenced_files()

    def sweep_orphans(self, min_age: timedelta = timedelta(hours=1)) -> int:
        return self.maintenance.sweep_orphans(min_age)
