"""Release endpoints (``/api/v1/releases...``): API token only, read-only.

A release the caller may not see (unapproved, revoked, or of a dataset they do not belong to) is
answered 404 as if it did not exist; which releases a caller may see is the service's decision
(:meth:`app.core.services.Platform.find_visible_release`). A caller who can see a release but
may not download it gets 403.
"""

from __future__ import annotations

from typing import Any, Callable, Literal, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import StreamingResponse

from app.api.auth import platform_of, release_scope_actor
from app.api.errors import ERROR_RESPONSES, ApiError, ErrorBody
from app.api.models import CardOut, ReleaseList, ReleaseOut, release_out
from app.core.authz import PermissionDeniedError
from app.core.bundle import charged_privacy
from app.core.releases import DOWNLOADABLE
from app.core.services import Actor, NotFoundError, Platform
from app.core.streaming import ArtifactIntegrityError
from synthgen.errors import SynthgenError

MAX_ID = 2**31 - 1
MEDIA = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}
ReleaseId = Path(..., ge=1, le=MAX_ID, description="release id")
T = TypeVar("T")

router = APIRouter(prefix="/releases", tags=["releases"])


def _hide_invisible(platform: Platform, actor: Actor, release_id: int, exc: SynthgenError) -> ApiError:
    """404 for releases the caller may not see (do not reveal they exist), 403 otherwise."""
    seen = platform.find_visible_release(actor, release_id)
    if seen is None:
        return ApiError(404, "not_found", f"release {release_id} does not exist or is not visible to you")
    if isinstance(exc, NotFoundError):
        return ApiError(404, "not_found", str(exc))
    if seen.state not in DOWNLOADABLE:
        return ApiError(403, "forbidden", f"release {release_id} is {seen.state!r}: only approved or published "
                                          "releases can be downloaded")
    return ApiError(403, "forbidden", str(exc))


def _checked(platform: Platform, actor: Actor, release_id: int, fn: Callable[[], T]) -> T:
    try:
        return fn()
    except (PermissionDeniedError, NotFoundError) as exc:
        raise _hide_invisible(platform, actor, release_id, exc) from None


@router.get("", response_model=ReleaseList, responses=ERROR_RESPONSES)
def list_releases(request: Request, actor: Actor = Depends(release_scope_actor),
                  dataset: str | None = Query(None, max_length=200, description="dataset name"),
                  state: list[Literal["approved", "published", "draft", "running", "failed", "evaluated", "second_review",
                                      "rejected", "revoked"]] | None = Query(None),
                  ) -> ReleaseList:
    """Releases visible to the caller (an ML engineer only ever sees approved or published ones)."""
    found = platform_of(request).list_releases(actor, states=tuple(state) if state else None)
    if dataset is not None:
        found = [r for r in found if r.dataset_name == dataset]
    return ReleaseList(releases=[release_out(r) for r in found])


@router.get("/latest", response_model=ReleaseOut, responses=ERROR_RESPONSES)
def latest_release(request: Request, dataset: str = Query(..., min_length=1, max_length=200),
                   actor: Actor = Depends(release_scope_actor)) -> ReleaseOut:
    """The newest approved or published release of ``dataset`` visible to the caller."""
    found = [r for r in platform_of(request).list_releases(actor, states=DOWNLOADABLE) if r.dataset_name == dataset]
    if not found:
        raise ApiError(404, "not_found", f"no approved release of dataset {dataset[:80]!r} is visible to you")
    return release_out(max(found, key=lambda r: r.id))


@router.get("/{release_id}", response_model=ReleaseOut, responses=ERROR_RESPONSES)
def get_release(request: Request, release_id: int = ReleaseId,
                actor: Actor = Depends(release_scope_actor)) -> ReleaseOut:
    p = platform_of(request)
    return release_out(_checked(p, actor, release_id, lambda: p.get_release(actor, release_id)))


@router.get("/{release_id}/card", response_model=CardOut, responses=ERROR_RESPONSES)
def get_card(request: Request, release_id: int = ReleaseId,
             actor: Actor = Depends(release_scope_actor)) -> CardOut:
    """The ML-team release card (no real-side statistics)."""
    p = platform_of(request)
    html = _checked(p, actor, release_id, lambda: p.get_release_card(actor, release_id, audience="ml"))
    rel = p.get_release(actor, release_id)
    privacy = charged_privacy(rel.dp, rel.epsilon, rel.delta, rel.rho)
    return CardOut(release=release_out(rel), privacy=privacy, card_html=html)


@router.get("/{release_id}/manifest", responses=ERROR_RESPONSES, response_model=dict[str, Any])
def get_manifest(request: Request, release_id: int = ReleaseId,
                 actor: Actor = Depends(release_scope_actor)) -> dict[str, Any]:
    """SHA-256 and size of every file, schema, synthesizer, ε/δ/ρ, versions, approval (audited)."""
    p = platform_of(request)
    return _checked(p, actor, release_id, lambda: p.manifest(actor, release_id))


@router.get("/{release_id}/download", response_class=StreamingResponse,
            responses={200: {"description": "the synthetic table, streamed",
                             "content": {MEDIA["csv"]: {"schema": {"type": "string"}},
                                         MEDIA["parquet"]: {"schema": {"type": "string", "format": "binary"}}},
                             "headers": {"ETag": {"schema": {"type": "string"},
                                                  "description": "quoted SHA-256 of the body"},
                                         "X-Checksum-SHA256": {"schema": {"type": "string"}}}},
                       500: {"model": ErrorBody, "description": "a stored file failed its integrity check"},
                       **ERROR_RESPONSES})
def download(request: Request, release_id: int = ReleaseId,
             format: Literal["csv", "parquet"] = Query("parquet", description="csv or parquet"),
             actor: Actor = Depends(release_scope_actor)):
    """The synthetic table of an approved/published release. Audited. The body's SHA-256 is in
    ``ETag``, ``X-Checksum-SHA256`` and the manifest."""
    p = platform_of(request)
    try:
        stream = _checked(p, actor, release_id, lambda: p.open_download(actor, release_id, format))
    except ArtifactIntegrityError as exc:  # checked before any byte is sent; audited by the service
        raise ApiError(500, "integrity_error", str(exc)) from None
    headers = {"ETag": f'"{stream.sha256}"', "X-Checksum-SHA256": stream.sha256, "Content-Length": str(stream.size),
               "Content-Disposition": f'attachment; filename="{stream.filename}"'}
    # The stream checks the GCM tag and the manifest SHA-256 at its end; a mismatch raises
    # inside the response and aborts it, so the client never gets a complete, wrong file.
    return StreamingResponse(iter(stream), media_type=stream.media_type, headers=headers)
