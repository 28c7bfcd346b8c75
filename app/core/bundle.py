"""Release bundle: the files an approved release exposes, and its manifest.

The bundle (a zip) holds the synthetic table as CSV and Parquet, the ML-team release card and
``manifest.json``: SHA-256 of every file, the schema, the synthesizer configuration, ε/δ/ρ (with
the conversion used), library versions and the approval record. The full (reviewer) card holds
real-side statistics and is never part of the bundle.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from typing import Any

from synthgen.budget import CONVERSION

SYNTH_CSV = "synthetic.csv"
SYNTH_PARQUET = "synthetic.parquet"
CARD_ML = "release_card.html"
CARD_FULL = "release_card_full.html"
MANIFEST = "manifest.json"
#: Files of the download bundle (besides the manifest).
PUBLIC_FILES = (SYNTH_CSV, SYNTH_PARQUET, CARD_ML)
FORMAT_FILES = {
    "csv": (SYNTH_CSV, "text/csv"),
    "parquet": (SYNTH_PARQUET, "application/vnd.apache.parquet"),
    "card": (CARD_ML, "text/html"),
}
MANIFEST_FORMAT = "synthgen-release-manifest/1"
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def _iso(dt) -> str | None:
    return dt.isoformat() if dt is not None else None


def charged_privacy(dp: bool, epsilon: float | None, delta: float | None, rho: float | None) -> dict[str, Any]:
    """The privacy a release was charged (the ledger's ρ and the ε asked for at its δ), as the
    manifest and the HTTP API show it. What OpenDP consumed (at most this) is in the model info
    and on the release card (``synthgen.budget.privacy_summary``)."""
    return {
        "dp": dp,
        "epsilon": epsilon,
        "delta": delta,
        "rho": rho,
        "accounting": "zCDP (rho adds); (epsilon, delta) via " + CONVERSION if dp else
        "none: this release is NOT differentially private",
    }


def build_manifest(release, *, dataset_name: str, requester: str, approver: str | None,
                   schema_review: dict[str, Any] | None = None, classification: str | None = None,
                   second_approver: str | None = None) -> dict[str, Any]:
    """Manifest of a release (``release`` is a ``store.Release`` row).

    The schema ships only with its review act (``schema_review``: who, when, from what, how
    many fields changed); a schema without one is withheld, since nothing then says that its
    categories and cuts are public knowledge rather than read off the table."""
    artifacts = json.loads(release.artifacts_json or "{}")
    info = json.loads(release.model_info_json or "{}")
    schema = json.loads(release.schema_json)
    policy = json.loads(release.policy_json)
    federation = (info.get("accounting") or {}).get("federation") if isinstance(info.get("accounting"), dict) else None
    return {
        "format": MANIFEST_FORMAT,
        "release_id": release.id,
        "dataset": dataset_name,
        "classification": classification,
        "state": release.state,
        "files": {name: {"sha256": meta["sha256"], "size": meta["size"]}
                  for name, meta in sorted(artifacts.items()) if meta.get("public")},
        "schema": schema if schema_review is not None else None,
        "schema_review": schema_review if schema_review is not None else "withheld: the schema has no recorded review",
        "schema_fingerprint": info.get("schema_fingerprint"),
        "synthesizer": {"name": release.synthesizer, "dp": release.dp, "config": json.loads(release.config_json),
                        "engine": info.get("engine", "memory"),  # where the private rows were counted
                        "model": {k: v for k, v in info.items() if k not in ("versions", "schema_fingerprint")}},
        "privacy": charged_privacy(release.dp, release.epsilon, release.delta, release.rho),
        "rows_requested": release.rows,
        "target": release.target,
        "library_versions": info.get("versions", {}),
        "evaluation": {"verdict": release.verdict, "policy": policy,
                       **({"not_measured": "federated fit: the platform holds no real table, so utility and risk "
                                           "were not measured"} if federation else {})},
        "kind": "federated" if federation else "central",
        "federation": federation,
        "approval": {
            "requester": requester,
            "requested_at": _iso(release.created_at),
            "approver": approver,
            "second_approver": second_approver,
            "decided_at": _iso(release.decided_at),
            "reason": release.reason,
            "override": release.override,
            "published_at": _iso(release.published_at),
            "expires_at": _iso(release.expires_at),
        },
    }


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def build_bundle(files: dict[str, bytes], manifest: dict[str, Any]) -> bytes:
    """A deterministic zip: the files, ``manifest.json`` and ``SHA256SUMS``."""
    for name, data in files.items():
        expected = manifest["files"].get(name, {}).get("sha256")
        if expected != hashlib.sha256(data).hexdigest():
            raise ValueError(f"file {name!r} does not match the manifest's SHA-256")
    man = manifest_bytes(manifest)
    entries = dict(sorted(files.items()))
    entries[MANIFEST] = man
    sums = "".join(f"{hashlib.sha256(d).hexdigest()}  {n}\n" for n, d in entries.items()).encode()
    entries["SHA256SUMS"] = sums
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zi = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            zf.writestr(zi, data)
    return buf.getvalue()


def download_name(release_id: int, fmt: str) -> str:
    return {
        "csv": f"release-{release_id}-synthetic.csv",
        "parquet": f"release-{release_id}-synthetic.parquet",
        "card": f"release-{release_id}-card.html",
        "manifest": f"release-{release_id}-manifest.json",
        "bundle": f"release-{release_id}.zip",
    }[fmt]
