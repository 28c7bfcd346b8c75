"""Envelope encryption for data at rest (pure: no database, no global state).

Layout
------
* One **master key** (AES-256) per installation. It lives *outside* the data directory: in
  the ``SYNTHGEN_MASTER_KEY`` environment variable (base64) or in a key file with 0600
  permissions. Whoever copies the data directory (a backup, a stolen disk image) gets
  ciphertext only.
* One **data key** (AES-256) per dataset, generated with :func:`new_data_key`. It is stored
  in the database only *wrapped* (encrypted) by the master key: :func:`wrap_data_key`.
* Every blob (the table, a fitted model, a synthetic release ...) is encrypted with the
  dataset's data key by :func:`encrypt`. The associated data binds it to its dataset and its
  purpose, so a blob cannot be swapped between datasets or between purposes.

Rotating the master key only re-wraps the (small) data keys: :func:`rewrap`. Each wrapped
key records the id of the master key that wrapped it (:func:`wrapped_key_id`), so a rotation
that crashed half-way can be resumed: keys already wrapped by the new master are left alone.

Formats (all integers big-endian, all fields fixed width)
---------------------------------------------------------
wrapped data key::

    0x01 | master key id (8 bytes = first 8 bytes of SHA-256(master)) | nonce (12) | AES-GCM(data key) + tag (48)
    associated data = the 9 header bytes + dataset_id (UTF-8)

ciphertext::

    0x01 | nonce (12) | AES-GCM(plaintext) + tag (16)
    associated data = f"{dataset_id}|{purpose}" (UTF-8)

Neither a key nor any plaintext ever appears in an exception message.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import secrets
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from synthgen.errors import InvalidInputError, SynthgenError

__all__ = [
    "MASTER_KEY_ENV",
    "KEY_BYTES",
    "DecryptionError",
    "KeyConfigError",
    "MasterKey",
    "load_master_key",
    "load_secret_key",
    "new_data_key",
    "wrap_data_key",
    "unwrap_data_key",
    "wrapped_key_id",
    "rewrap",
    "encrypt",
    "decrypt",
]

MASTER_KEY_ENV = "SYNTHGEN_MASTER_KEY"
KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # 96-bit GCM nonce
TAG_BYTES = 16
KEY_ID_BYTES = 8  # 16 hex characters

_WRAP_VERSION = 1
_WRAP_HEADER = 1 + KEY_ID_BYTES
_WRAPPED_LEN = _WRAP_HEADER + NONCE_BYTES + KEY_BYTES + TAG_BYTES
_CT_VERSION = 1
_CT_HEADER = 1
# AESGCM refuses inputs of 2**31 bytes or more; tables are far smaller in practice.
MAX_PLAINTEXT_BYTES = 2**31 - 1
_PURPOSE_RE = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,63}$")


class DecryptionError(SynthgenError):
    """A ciphertext or wrapped key failed authentication (tampered, swapped, or wrong key)."""


class KeyConfigError(SynthgenError):
    """A key could not be loaded or created safely (missing, malformed, misplaced, exposed)."""


# --------------------------------------------------------------------------- master key


@dataclass(frozen=True)
class MasterKey:
    """A 256-bit AES key. ``repr`` never shows the key bytes."""

    key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.key, bytes) or len(self.key) != KEY_BYTES:
            size = len(self.key) if isinstance(self.key, (bytes, bytearray)) else type(self.key).__name__
            raise KeyConfigError(f"master key ({size} bytes) must be exactly {KEY_BYTES} bytes")

    @classmethod
    def generate(cls) -> "MasterKey":
        return cls(secrets.token_bytes(KEY_BYTES))

    @classmethod
    def from_b64(cls, text: str, *, source: str = "master key") -> "MasterKey":
        return cls(_decode_key_b64(text, source))

    def to_b64(self) -> str:
        return base64.b64encode(self.key).decode("ascii")

    @property
    def key_id(self) -> str:
        """First 16 hex characters of SHA-256(key): a fingerprint safe to log and store."""
        return hashlib.sha256(self.key).hexdigest()[: 2 * KEY_ID_BYTES]

    def __repr__(self) -> str:  # the dataclass repr would be fine too; be explicit
        return f"MasterKey(key_id={self.key_id!r})"


def _decode_key_b64(text: str, source: str) -> bytes:
    if not isinstance(text, str):
        raise KeyConfigError(f"{source} must be base64 text, not {type(text).__name__}")
    cleaned = "".join(text.split())
    try:
        if "-" in cleaned or "_" in cleaned:  # the URL-safe alphabet is accepted as well
            raw = base64.b64decode(cleaned, altchars=b"-_", validate=True)
        else:
            raw = base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError):
        raise KeyConfigError(
            f"{source} ({len(cleaned)} characters) must be base64 encoding of {KEY_BYTES} random bytes"
        ) from None
    if len(raw) != KEY_BYTES:
        raise KeyConfigError(
            f"{source} decodes to {len(raw)} bytes but must be exactly {KEY_BYTES} bytes (base64 of {KEY_BYTES} random bytes)"
        )
    return raw


# --------------------------------------------------------------------------- key files


def _is_inside(path: Path, directory: Path) -> bool:
    """True when ``path`` is ``directory`` or below it, after resolving symlinks and ``..``."""
    p = Path(path).expanduser().resolve(strict=False)
    d = Path(directory).expanduser().resolve(strict=False)
    return p == d or p.is_relative_to(d)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_new_secret_file(path: Path, text: str) -> bool:
    """Create ``path`` holding ``text`` with 0600 permissions, atomically, never clobbering.

    temp file (mkstemp: 0600) → write → fsync → hard-link to the final name (fails if a file
    appeared there meanwhile) → unlink temp → fsync directory. Returns False when another
    process created the file first (the caller then reads that one).
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError:  # filesystem without hard links: fall back to rename
            if path.exists():
                return False
            os.replace(tmp, path)
        _fsync_dir(path.parent)
        return True
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass


def _read_secret_file(path: Path, what: str) -> str:
    try:
        st = os.stat(path)
    except OSError as exc:
        raise KeyConfigError(f"{what} file {str(path)!r} cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        raise KeyConfigError(f"{what} file {str(path)!r} must be a regular file")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise KeyConfigError(
            f"{what} file {str(path)!r} has permissions {mode:04o}; it must not be readable or writable "
            f"by group or others (run: chmod 600 {path})"
        )
    try:
        return path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not ASCII base64 text"
        raise KeyConfigError(f"{what} file {str(path)!r} cannot be read ({reason})") from None


def load_secret_key(
    env_value: str | None,
    key_file: Path,
    data_dir: Path,
    *,
    create: bool,
    what: str,
    env_name: str,
) -> tuple[bytes, str]:
    """Load a 32-byte secret from ``env_value`` (base64) or ``key_file``; maybe create the file.

    Shared by the master key and the audit HMAC key. Returns ``(key bytes, message)`` where the
    message says where the key came from (safe to log: it never contains the key).
    """
    if env_value is not None and env_value.strip():
        return _decode_key_b64(env_value, env_name), f"{what} loaded from the {env_name} environment variable"
    key_file = Path(key_file).expanduser()
    if _is_inside(key_file, data_dir):
        raise KeyConfigError(
            f"{what} file {str(key_file)!r} is inside the data directory {str(data_dir)!r}; the key must be kept "
            f"outside the data directory (so a copy of the data is useless without it): set {env_name} or "
            f"choose a key file elsewhere"
        )
    if key_file.exists() or key_file.is_symlink():
        raw = _decode_key_b64(_read_secret_file(key_file, what), f"{what} file {str(key_file)!r}")
        return raw, f"{what} loaded from {key_file}"
    if not create:
        raise KeyConfigError(
            f"{what} file {str(key_file)!r} does not exist; set {env_name} or allow creating a new key"
        )
    raw = secrets.token_bytes(KEY_BYTES)
    if not _write_new_secret_file(key_file, base64.b64encode(raw).decode("ascii") + "\n"):
        # Another process won the race: use its key, never overwrite one.
        raw = _decode_key_b64(_read_secret_file(key_file, what), f"{what} file {str(key_file)!r}")
        return raw, f"{what} loaded from {key_file}"
    return raw, (
        f"generated a new {what} and wrote it to {key_file} (permissions 0600); back it up separately "
        f"from the data directory: without it the data cannot be used"
    )


def load_master_key(
    env_value: str | None, key_file: Path, data_dir: Path, *, create: bool
) -> tuple[MasterKey, str]:
    """The master key from ``SYNTHGEN_MASTER_KEY`` (base64) or ``key_file``.

    A missing key file is generated (0600, atomic, never clobbering) only when ``create``.
    Refuses a key file inside ``data_dir`` and a key file with group/other permissions.
    Returns ``(key, message)``; the message names the source and never contains the key.
    """
    raw, message = load_secret_key(
        env_value, key_file, data_dir, create=create, what="master key", env_name=MASTER_KEY_ENV
    )
    key = MasterKey(raw)
    return key, f"{message} (key id {key.key_id})"


# --------------------------------------------------------------------------- data keys


def new_data_key() -> bytes:
    """A fresh random 256-bit data key (one per dataset)."""
    return secrets.token_bytes(KEY_BYTES)


def _check_dataset_id(dataset_id: str) -> bytes:
    if not isinstance(dataset_id, str) or not dataset_id:
        raise InvalidInputError(f"dataset_id ({dataset_id!r}) must be a non-empty string")
    if "|" in dataset_id or "\x00" in dataset_id or len(dataset_id) > 256:
        raise InvalidInputError(
            f"dataset_id ({dataset_id[:64]!r}) must be at most 256 characters without '|' or NUL"
        )
    return dataset_id.encode("utf-8")


def _check_purpose(purpose: str) -> None:
    if not isinstance(purpose, str) or not _PURPOSE_RE.match(purpose):
        raise InvalidInputError(
            f"purpose ({str(purpose)[:64]!r}) must be 1-64 characters of a-z, 0-9, '_', '.', ':', '-' "
            f"starting with a letter or digit"
        )


def _check_data_key(data_key: bytes) -> None:
    if not isinstance(data_key, bytes) or len(data_key) != KEY_BYTES:
        size = len(data_key) if isinstance(data_key, (bytes, bytearray)) else type(data_key).__name__
        raise InvalidInputError(f"data key ({size} bytes) must be exactly {KEY_BYTES} bytes")


def wrapped_key_id(wrapped: bytes) -> str:
    """The id of the master key that wrapped ``wrapped`` (hex), read from its header."""
    if not isinstance(wrapped, bytes) or len(wrapped) != _WRAPPED_LEN or wrapped[0] != _WRAP_VERSION:
        raise DecryptionError(
            f"wrapped data key ({len(wrapped) if isinstance(wrapped, bytes) else type(wrapped).__name__} bytes) "
            f"is not a version-{_WRAP_VERSION} wrapped key of {_WRAPPED_LEN} bytes"
        )
    return wrapped[1:_WRAP_HEADER].hex()


def wrap_data_key(master: MasterKey, data_key: bytes, dataset_id: str) -> bytes:
    """Encrypt ``data_key`` under ``master``, bound to ``dataset_id``."""
    _check_data_key(data_key)
    ds = _check_dataset_id(dataset_id)
    header = bytes([_WRAP_VERSION]) + bytes.fromhex(master.key_id)
    nonce = secrets.token_bytes(NONCE_BYTES)
    ct = AESGCM(master.key).encrypt(nonce, data_key, header + ds)
    return header + nonce + ct


def unwrap_data_key(master: MasterKey, wrapped: bytes, dataset_id: str) -> bytes:
    """Decrypt a wrapped data key; :class:`DecryptionError` on tampering or wrong key/dataset."""
    ds = _check_dataset_id(dataset_id)
    kid = wrapped_key_id(wrapped)
    if kid != master.key_id:
        raise DecryptionError(
            f"data key of dataset {dataset_id!r} was wrapped by master key {kid}, but the loaded master key "
            f"is {master.key_id}; load the right master key (or finish the key rotation)"
        )
    header, nonce, ct = wrapped[:_WRAP_HEADER], wrapped[_WRAP_HEADER : _WRAP_HEADER + NONCE_BYTES], wrapped[
        _WRAP_HEADER + NONCE_BYTES :
    ]
    try:
        return AESGCM(master.key).decrypt(nonce, ct, header + ds)
    except InvalidTag:
        raise DecryptionError(
            f"wrapped data key of dataset {dataset_id!r} failed authentication: it was modified or belongs "
            f"to another dataset"
        ) from None


def rewrap(old_master: MasterKey, new_master: MasterKey, wrapped: bytes, dataset_id: str) -> bytes:
    """Re-wrap a data key from ``old_master`` to ``new_master`` (key rotation).

    Idempotent: a key already wrapped by ``new_master`` is checked and returned unchanged, so a
    rotation interrupted half-way can simply be run again.
    """
    if wrapped_key_id(wrapped) == new_master.key_id:
        unwrap_data_key(new_master, wrapped, dataset_id)  # verify, do not trust the header alone
        return wrapped
    return wrap_data_key(new_master, unwrap_data_key(old_master, wrapped, dataset_id), dataset_id)


# --------------------------------------------------------------------------- blobs


def _aad(dataset_id: str, purpose: str) -> bytes:
    _check_dataset_id(dataset_id)
    _check_purpose(purpose)
    return f"{dataset_id}|{purpose}".encode("utf-8")


#: Bytes before the GCM ciphertext (version byte + nonce) and after it (tag).
CT_PREFIX_BYTES = _CT_HEADER + NONCE_BYTES
CT_OVERHEAD_BYTES = CT_PREFIX_BYTES + TAG_BYTES


def associated_data(dataset_id: str, purpose: str) -> bytes:
    """The AES-GCM associated data of a blob (for incremental decryption of large files)."""
    return _aad(dataset_id, purpose)


def split_prefix(prefix: bytes) -> bytes:
    """The nonce of a ciphertext from its first :data:`CT_PREFIX_BYTES` bytes (checks the
    format version); :class:`DecryptionError` otherwise."""
    if len(prefix) != CT_PREFIX_BYTES or prefix[0] != _CT_VERSION:
        raise DecryptionError("ciphertext has an unknown format version or is truncated")
    return prefix[_CT_HEADER:]


def encrypt(data_key: bytes, plaintext: bytes, dataset_id: str, purpose: str) -> bytes:
    """AES-256-GCM with a random 96-bit nonce; AAD = f"{dataset_id}|{purpose}".

    ``purpose`` names what the blob is (``table``, ``model``, ``release`` ...), lower case.
    A random nonce is safe for far more than 2**32 messages per data key would allow; each
    dataset has its own key and only a handful of blobs.
    """
    _check_data_key(data_key)
    aad = _aad(dataset_id, purpose)
    if not isinstance(plaintext, (bytes, bytearray, memoryview)):
        raise InvalidInputError(f"plaintext must be bytes, not {type(plaintext).__name__}")
    if len(plaintext) > MAX_PLAINTEXT_BYTES:
        raise InvalidInputError(
            f"plaintext ({len(plaintext)} bytes) must be at most {MAX_PLAINTEXT_BYTES} bytes to encrypt in one piece"
        )
    nonce = secrets.token_bytes(NONCE_BYTES)
    return bytes([_CT_VERSION]) + nonce + AESGCM(data_key).encrypt(nonce, bytes(plaintext), aad)


def decrypt(data_key: bytes, ciphertext: bytes, dataset_id: str, purpose: str) -> bytes:
    """Inverse of :func:`encrypt`; :class:`DecryptionError` on any tampering or mismatch."""
    _check_data_key(data_key)
    aad = _aad(dataset_id, purpose)
    if not isinstance(ciphertext, bytes) or len(ciphertext) < _CT_HEADER + NONCE_BYTES + TAG_BYTES:
        raise DecryptionError(
            f"ciphertext ({purpose} of dataset {dataset_id!r}) is truncated or not a synthgen ciphertext"
        )
    if ciphertext[0] != _CT_VERSION:
        raise DecryptionError(
            f"ciphertext ({purpose} of dataset {dataset_id!r}) has format version {ciphertext[0]}; "
            f"only version {_CT_VERSION} is supported"
        )
    nonce = ciphertext[_CT_HEADER : _CT_HEADER + NONCE_BYTES]
    try:
        return AESGCM(data_key).decrypt(nonce, ciphertext[_CT_HEADER + NONCE_BYTES :], aad)
    except InvalidTag:
        raise DecryptionError(
            f"ciphertext ({purpose} of dataset {dataset_id!r}) failed authentication: it was modified, "
            f"belongs to another dataset or purpose, or the data key is wrong"
        ) from None


def write_secret_file(path: Path, text: str) -> None:
    """Write a secret atomically and durably: temp file (0600) → fsync → rename → fsync the folder."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
