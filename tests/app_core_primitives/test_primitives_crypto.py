"""Envelope encryption: round trips, tamper detection, rotation, key-file handling."""

from __future__ import annotations

import base64
import os
import stat

import pytest

from app.core.crypto import (
    DecryptionError,
    KeyConfigError,
    MasterKey,
    decrypt,
    encrypt,
    load_master_key,
    new_data_key,
    rewrap,
    unwrap_data_key,
    wrap_data_key,
    wrapped_key_id,
)
from synthgen.errors import InvalidInputError, SynthgenError

PLAINTEXT = b"name,age\nalice,34\nbob,51\n"


def test_master_key_b64_round_trip_and_fingerprint():
    key = MasterKey.generate()
    again = MasterKey.from_b64(key.to_b64())
    assert again == key
    assert len(key.key_id) == 16 and all(c in "0123456789abcdef" for c in key.key_id)
    assert key.key_id != MasterKey.generate().key_id
    assert key.to_b64() not in repr(key)


@pytest.mark.parametrize("text", ["", "not base64!!", base64.b64encode(b"short").decode()])
def test_master_key_from_bad_b64_is_refused_without_echoing(text):
    with pytest.raises(KeyConfigError) as info:
        MasterKey.from_b64(text)
    assert isinstance(info.value, SynthgenError)
    if text:
        assert text not in str(info.value)


def test_encrypt_round_trip_and_nonce_is_random():
    dk = new_data_key()
    assert len(dk) == 32 and dk != new_data_key()
    ct1 = encrypt(dk, PLAINTEXT, "ds-1", "table")
    ct2 = encrypt(dk, PLAINTEXT, "ds-1", "table")
    assert ct1 != ct2  # fresh nonce every time
    assert PLAINTEXT not in ct1
    assert decrypt(dk, ct1, "ds-1", "table") == PLAINTEXT
    assert decrypt(dk, encrypt(dk, b"", "ds-1", "model"), "ds-1", "model") == b""


@pytest.mark.parametrize("position", [0, 1, 5, 13, -1, -17])
def test_flipped_byte_fails(position):
    dk = new_data_key()
    ct = bytearray(encrypt(dk, PLAINTEXT, "ds-1", "table"))
    ct[position] ^= 0x01
    with pytest.raises(DecryptionError):
        decrypt(dk, bytes(ct), "ds-1", "table")


def test_truncated_ciphertext_fails():
    dk = new_data_key()
    ct = encrypt(dk, PLAINTEXT, "ds-1", "table")
    for cut in (0, 5, 28, len(ct) - 1):
        with pytest.raises(DecryptionError):
            decrypt(dk, ct[:cut], "ds-1", "table")


def test_dataset_swap_fails():
    dk = new_data_key()
    ct = encrypt(dk, PLAINTEXT, "ds-1", "table")
    with pytest.raises(DecryptionError, match="ds-2"):
        decrypt(dk, ct, "ds-2", "table")


def test_wrong_purpose_fails():
    dk = new_data_key()
    ct = encrypt(dk, PLAINTEXT, "ds-1", "table")
    with pytest.raises(DecryptionError, match="model"):
        decrypt(dk, ct, "ds-1", "model")


def test_wrong_data_key_fails_and_message_has_no_plaintext():
    ct = encrypt(new_data_key(), PLAINTEXT, "ds-1", "table")
    with pytest.raises(DecryptionError) as info:
        decrypt(new_data_key(), ct, "ds-1", "table")
    assert "alice" not in str(info.value)


@pytest.mark.parametrize("dataset_id,purpose", [("a|b", "table"), ("", "table"), ("ds", "Table"), ("ds", "a|b"), ("ds", "")])
def test_ambiguous_associated_data_is_refused(dataset_id, purpose):
    with pytest.raises(InvalidInputError):
        encrypt(new_data_key(), PLAINTEXT, dataset_id, purpose)


def test_wrap_unwrap_round_trip_binds_dataset_and_master():
    master = MasterKey.generate()
    dk = new_data_key()
    wrapped = wrap_data_key(master, dk, "ds-1")
    assert dk not in wrapped
    assert wrapped_key_id(wrapped) == master.key_id
    assert unwrap_data_key(master, wrapped, "ds-1") == dk
    with pytest.raises(DecryptionError):
        unwrap_data_key(master, wrapped, "ds-2")
    with pytest.raises(DecryptionError, match=master.key_id):
        unwrap_data_key(MasterKey.generate(), wrapped, "ds-1")
    tampered = bytearray(wrapped)
    tampered[-1] ^= 0x80
    with pytest.raises(DecryptionError):
        unwrap_data_key(master, bytes(tampered), "ds-1")
    # a forged header (claiming another master's id) is caught as well
    forged = bytearray(wrapped)
    forged[1] ^= 0x01
    with pytest.raises(DecryptionError):
        unwrap_data_key(master, bytes(forged), "ds-1")


def test_rotation_keeps_data_readable_and_is_idempotent():
    old, new = MasterKey.generate(), MasterKey.generate()
    dk = new_data_key()
    wrapped = wrap_data_key(old, dk, "ds-1")
    ct = encrypt(dk, PLAINTEXT, "ds-1", "table")
    rewrapped = rewrap(old, new, wrapped, "ds-1")
    assert wrapped_key_id(rewrapped) == new.key_id
    assert decrypt(unwrap_data_key(new, rewrapped, "ds-1"), ct, "ds-1", "table") == PLAINTEXT
    with pytest.raises(DecryptionError):
        unwrap_data_key(old, rewrapped, "ds-1")
    # running the rotation again (e.g. after a crash) leaves already-rotated keys alone
    assert rewrap(old, new, rewrapped, "ds-1") == rewrapped
    # the wrong "old" key cannot rotate
    with pytest.raises(DecryptionError):
        rewrap(MasterKey.generate(), new, wrapped, "ds-1")


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_key_file_created_0600_and_reloaded(tmp_path):
    data_dir = tmp_path / "data"
    key_file = tmp_path / "secrets" / "master.key"
    key, message = load_master_key(None, key_file, data_dir, create=True)
    assert key_file.exists()
    assert _mode(key_file) == 0o600
    assert str(key_file) in message and key.key_id in message
    assert key.to_b64() not in message
    assert not [p for p in key_file.parent.iterdir() if p.name.endswith(".tmp")]  # no temp files left
    again, message2 = load_master_key(None, key_file, data_dir, create=True)
    assert again == key and "loaded" in message2


def test_missing_key_file_without_create_is_refused(tmp_path):
    with pytest.raises(KeyConfigError, match="does not exist"):
        load_master_key(None, tmp_path / "k" / "master.key", tmp_path / "data", create=False)
    assert not (tmp_path / "k" / "master.key").exists()


@pytest.mark.parametrize("relative", ["data/master.key", "data/sub/master.key", "data/../data/x.key"])
def test_refuse_key_inside_data_dir(tmp_path, relative):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with pytest.raises(KeyConfigError, match="outside the data directory"):
        load_master_key(None, tmp_path / relative, data_dir, create=True)
    assert list(data_dir.rglob("*.key")) == []


def test_refuse_key_inside_data_dir_via_symlink(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    link = tmp_path / "keys"
    link.symlink_to(data_dir)
    with pytest.raises(KeyConfigError, match="outside the data directory"):
        load_master_key(None, link / "master.key", data_dir, create=True)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
def test_refuse_key_file_readable_by_others(tmp_path, mode):
    key_file = tmp_path / "master.key"
    key_file.write_text(MasterKey.generate().to_b64())
    os.chmod(key_file, mode)
    with pytest.raises(KeyConfigError, match="chmod 600"):
        load_master_key(None, key_file, tmp_path / "data", create=False)


def test_env_value_wins_over_file(tmp_path):
    key = MasterKey.generate()
    loaded, message = load_master_key(key.to_b64(), tmp_path / "absent.key", tmp_path / "data", create=True)
    assert loaded == key
    assert "SYNTHGEN_MASTER_KEY" in message
    assert not (tmp_path / "absent.key").exists()
    with pytest.raises(KeyConfigError):
        load_master_key("garbage", tmp_path / "absent.key", tmp_path / "data", create=True)


def test_corrupt_key_file_is_refused(tmp_path):
    key_file = tmp_path / "master.key"
    key_file.write_text("too-short")
    os.chmod(key_file, 0o600)
    with pytest.raises(KeyConfigError, match="32 random bytes|exactly 32 bytes"):
        load_master_key(None, key_file, tmp_path / "data", create=True)
