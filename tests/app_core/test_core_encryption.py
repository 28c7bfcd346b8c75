"""Private tables at rest: no plaintext anywhere, authenticated encryption, key rotation."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select, text

from app.core import crypto, jobs
from app.core.services import Platform
from app.core.store import Dataset, transaction
from core_helpers import TITANIC_CSV, make_team, tiny_pipeline, upload_titanic


def canary_csv(canary: str) -> bytes:
    lines = TITANIC_CSV.read_text().splitlines()
    header, rows = lines[0], lines[1:]
    # row 6 (Moran, Mr. James): put the canary in the Name and Ticket cells
    parts = rows[5].split(",")
    assert parts[3] == '"Moran' and parts[4] == ' Mr. James"'
    parts[3], parts[4] = f'"{canary}', ' X"'
    parts[9] = canary
    rows[5] = ",".join(parts)
    return ("\n".join([header, *rows]) + "\n").encode()


def db_dump(platform) -> bytes:
    """Every row of every table, as text (bytea/blobs included as hex and raw)."""
    out = []
    with platform.engine.connect() as conn:
        for table in sa_inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                for value in row:
                    if isinstance(value, (bytes, bytearray, memoryview)):
                        out.append(bytes(value))
                        out.append(bytes(value).hex().encode())
                    else:
                        out.append(str(value).encode("utf-8"))
    return b"\n".join(out)


def test_canary_never_reaches_disk_or_database(platform, settings):
    canary = "CANARY" + secrets.token_hex(8)
    team = make_team(platform)
    ds = upload_titanic(platform, team, data=canary_csv(canary))
    draft = platform.draft_schema(team.owner, ds.id)  # decrypts in memory; the draft is not stored
    assert draft.derived_from_private_data
    platform.request_release(team.owner, ds.id, synthesizer="mst", epsilon=0.5)
    assert jobs.run_one(platform, tiny_pipeline()) == "succeeded"
    platform.engine.dispose()
    needle = canary.encode()
    hits = []
    for path in settings.data_dir.rglob("*"):
        if path.is_file() and needle in path.read_bytes():
            hits.append(str(path))
    assert hits == []
    assert needle not in db_dump(platform)
    assert needle.hex().encode() not in db_dump(platform)
    assert any(p.name == "train.enc" for p in settings.data_dir.rglob("*"))


def test_flipped_ciphertext_byte_fails(platform, settings):
    team = make_team(platform)
    ds = upload_titanic(platform, team)
    with transaction(platform._factory) as s:
        row = s.get(Dataset, ds.id)
        path = settings.data_dir / row.table_path
        blob = bytearray(path.read_bytes())
        key = platform.data_key(row)
    assert crypto.decrypt(key, bytes(blob), str(ds.id), "table.train")
    blob[len(blob) // 2] ^= 0x01
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(key, bytes(blob), str(ds.id), "table.train")
    path.write_bytes(bytes(blob))
    with pytest.raises(crypto.DecryptionError):
        platform.draft_schema(team.owner, ds.id)
    assert any("table.train" in p for p in platform.check_integrity())
    # a ciphertext of one dataset does not decrypt as another's (dataset id is associated data)
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(key, crypto.encrypt(key, b"x", str(ds.id), "table.train"), str(ds.id + 1), "table.train")


def test_rotation_keeps_every_dataset_readable(platform, settings):
    team = make_team(platform)
    a = upload_titanic(platform, team)
    b = upload_titanic(platform, team, name="titanic 2")
    old_id = platform.master_key().key_id
    message = platform.rotate_keys(team.admin)
    new_id = platform.master_key().key_id
    assert new_id != old_id and new_id in message
    with transaction(platform._factory) as s:
        for row in s.execute(select(Dataset)).scalars():
            assert row.master_key_id == new_id and crypto.wrapped_key_id(row.wrapped_data_key) == new_id
    for ds in (a, b):
        assert platform.draft_schema(team.owner, ds.id).schema_json
    assert not settings.master_key_file.with_name("master.key.new").exists()
    platform.close()
    reopened = Platform.open(settings)  # a new process reads the rotated key file
    try:
        assert reopened.master_key().key_id == new_id
        for ds in (a, b):
            assert reopened.draft_schema(team.owner, ds.id).schema_json
        assert reopened.check_integrity() == []
    finally:
        reopened.close()


def test_rotation_with_env_master_key(settings, tmp_path):
    from core_helpers import make_team as _mt

    from core_helpers import random_key_b64

    env_settings = settings.with_(master_key_env=random_key_b64())
    p = Platform.open(env_settings)
    try:
        team = _mt(p)
        ds = upload_titanic(p, team)
        with pytest.raises(Exception, match="pass the new key"):
            p.rotate_keys(team.admin)
        new = random_key_b64()
        p.rotate_keys(team.admin, new)
        p.close()
        p = Platform.open(env_settings.with_(master_key_env=new))
        assert p.draft_schema(team.owner, ds.id).schema_json
    finally:
        p.close()


def test_key_files_outside_data_dir_and_private(settings, platform):
    import stat

    for f in (settings.master_key_file, settings.audit_key_file):
        assert f.exists() and stat.S_IMODE(f.stat().st_mode) == 0o600
        assert not f.resolve().is_relative_to(settings.data_dir.resolve())
    from app.core.config import Settings
    from synthgen.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="outside the data directory"):
        Settings(data_dir=settings.data_dir, database_url="sqlite:///x.db", key_dir=settings.data_dir / "keys")
