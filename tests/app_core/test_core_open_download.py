"""Platform.open_download: streamed, authorized and audited in the service (the API only relays it)."""

from __future__ import annotations

import hashlib
import json

import pytest

from app.core import jobs
from app.core.authz import PermissionDeniedError
from app.core.store import Release, transaction
from app.core.streaming import ArtifactIntegrityError
from synthgen.errors import InvalidInputError

from core_helpers import make_team, tiny_pipeline, upload_titanic


def approved_release(platform, team):
    ds = upload_titanic(platform, team)
    rel = platform.request_release(team.owner, ds.id, synthesizer="mst", epsilon=0.5, rows=3000)
    assert jobs.run_one(platform, tiny_pipeline()) == "succeeded"
    platform.approve(team.officer, rel.id, "fine")
    return rel.id


def downloads(platform, team, rid):
    return [(e.actor, e.outcome, e.details.get("format"), e.details.get("streamed"))
            for e in platform.audit_log(team.admin, action="download", target=f"release:{rid}")]


def test_stream_yields_the_file_in_chunks_and_is_audited_once(platform, monkeypatch):
    import app.core.streaming as streaming

    monkeypatch.setattr(streaming, "CHUNK_BYTES", 1024)  # several chunks even for a small file
    team = make_team(platform)
    rid = approved_release(platform, team)
    whole = platform.download(team.ml, rid, "csv")
    stream = platform.open_download(team.ml, rid, "csv")
    assert (stream.filename, stream.sha256, stream.size) == (f"release-{rid}-synthetic.csv", whole.sha256, len(whole.data))
    assert stream.media_type.startswith("text/csv")
    chunks = list(stream)
    assert len(chunks) > 1 and max(len(c) for c in chunks) <= 1024
    assert b"".join(chunks) == whole.data and hashlib.sha256(b"".join(chunks)).hexdigest() == stream.sha256
    with pytest.raises(Exception, match="already read"):
        list(stream)
    assert downloads(platform, team, rid) == [("ml", "ok", "csv", None), ("ml", "ok", "csv", True)]


def test_refusals_are_audited_and_reveal_nothing(platform):
    team = make_team(platform)
    rid = approved_release(platform, team)
    with pytest.raises(PermissionDeniedError):
        platform.open_download(team.admin, rid, "csv")  # not a data consumer
    with pytest.raises(PermissionDeniedError):
        platform.open_download(team.outsider, rid, "parquet")  # not a member
    with pytest.raises(InvalidInputError, match=r"format \('bundle'\) must be csv, parquet or card"):
        platform.open_download(team.ml, rid, "bundle")
    assert [(a, o) for a, o, _f, _s in downloads(platform, team, rid)] == [
        ("admin", "denied"), ("outsider", "denied"), ("ml", "failed")]


def _artifact_path(platform, rid, name="synthetic.csv"):
    with transaction(platform._factory) as s:
        meta = json.loads(s.get(Release, rid).artifacts_json)[name]
    return platform._path(meta["path"])


def test_tampered_ciphertext_is_refused_before_any_byte_and_audited_as_failed(platform):
    team = make_team(platform)
    rid = approved_release(platform, team)
    path = _artifact_path(platform, rid)
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 1
    path.write_bytes(bytes(blob))
    with pytest.raises(ArtifactIntegrityError, match="does not match its recorded SHA-256"):
        platform.open_download(team.ml, rid, "csv")
    assert downloads(platform, team, rid) == [("ml", "failed", None, None)]


def test_a_file_changed_after_the_check_fails_at_the_end_of_the_stream(platform, monkeypatch):
    """The ciphertext hash is checked at open; if the file changes while streaming, the GCM tag
    fails at the end, the stream raises instead of completing, and the failure is audited."""
    import app.core.streaming as streaming

    team = make_team(platform)
    rid = approved_release(platform, team)
    path = _artifact_path(platform, rid)
    original = path.read_bytes()
    monkeypatch.setattr(streaming, "CHUNK_BYTES", 256)
    stream = platform.open_download(team.ml, rid, "csv")
    it = iter(stream)
    next(it)
    # rewrite a later byte in place (same inode: the open file handle sees it)
    with open(path, "r+b") as fh:
        fh.seek(len(original) - 40)
        fh.write(bytes([original[-40] ^ 1]))
    with pytest.raises(ArtifactIntegrityError, match="failed authentication"):
        for _ in it:
            pass
    outcomes = [(o, s) for _a, o, _f, s in downloads(platform, team, rid)]
    assert outcomes == [("ok", True), ("failed", None)]
