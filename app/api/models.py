"""Response and request bodies of the HTTP API (the OpenAPI document is built from these)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from app.core.releases import DOWNLOADABLE
from app.core.services import ApiTokenInfo, ReleaseInfo


class ReleaseOut(BaseModel):
    id: int
    dataset_id: int
    dataset: str
    state: str
    synthesizer: str
    dp: bool
    epsilon: float | None
    delta: float | None
    rho: float | None
    rows: int | None
    target: str | None
    verdict: str | None
    approver: str | None
    override: bool
    created_at: datetime
    updated_at: datetime
    files: dict[str, str] = Field(description="public file name -> SHA-256 of its content")
    downloadable: bool
    classification: str = Field(description="the dataset's label: public, internal, confidential or restricted")
    second_approver: str | None = None
    approvals_required: int = Field(description="privacy officers who must approve (set by the label)")
    expires_at: datetime | None = Field(None, description="end of the publication window (set by the label)")
    federation: dict[str, Any] | None = Field(
        None, description="a federated fit's record (fit id, coordinator, sites, colluders, rounds, trust model); "
                          "null for a central fit. A federated release's utility and risk were not measured")


class ReleaseList(BaseModel):
    releases: list[ReleaseOut]


class CardOut(BaseModel):
    release: ReleaseOut
    privacy: dict[str, Any]
    card_html: str = Field(description="the ML-team release card (HTML), as rendered in the dashboard")


class TokenCreate(BaseModel):
    ttl_days: float = Field(30.0, ge=0.001, le=365, description="lifetime in days (at most 365)")


class TokenOut(BaseModel):
    id: int
    prefix: str
    user: str
    created_at: datetime
    expires_at: datetime
    revoked: bool
    token: str | None = Field(None, description="the secret: only in the answer to its creation, shown once")


class TokenList(BaseModel):
    tokens: list[TokenOut]


class Health(BaseModel):
    status: Literal["ok"]


def release_out(r: ReleaseInfo) -> ReleaseOut:
    return ReleaseOut(id=r.id, dataset_id=r.dataset_id, dataset=r.dataset_name, state=r.state,
                      synthesizer=r.synthesizer, dp=r.dp, epsilon=r.epsilon, delta=r.delta, rho=r.rho, rows=r.rows,
                      target=r.target, verdict=r.verdict, approver=r.approver, override=r.override,
                      created_at=r.created_at, updated_at=r.updated_at, files=dict(r.artifacts),
                      downloadable=r.state in DOWNLOADABLE, classification=r.classification,
                      second_approver=r.second_approver, approvals_required=r.approvals_required,
                      expires_at=r.expires_at, federation=r.federation)


def token_out(t: ApiTokenInfo) -> TokenOut:
    return TokenOut(id=t.id, prefix=t.prefix, user=t.user, created_at=t.created_at, expires_at=t.expires_at,
                    revoked=t.revoked, token=t.token)
