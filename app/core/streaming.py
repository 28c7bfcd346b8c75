"""Streamed downloads of encrypted release artifacts (bounded memory, whatever the file size).

:meth:`app.core.services.Platform.open_download` authorizes, checks the stored ciphertext
against its recorded SHA-256 and writes the ``download`` audit entry, then hands back a
:class:`DownloadStream`. Iterating it decrypts AES-GCM incrementally, one chunk at a time; the
GCM tag and the plaintext SHA-256 (the one in the manifest) are checked when the last chunk has
been read, so a consumer that forwards chunks as they come (an HTTP response) aborts before the
end instead of completing a wrong file. A failure at that point raises
:class:`ArtifactIntegrityError` and is recorded as a failed ``download``.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import BinaryIO, Callable, Iterator

from synthgen.errors import SynthgenError

# 64 KiB: each stream in flight holds about two chunks (the block read and its plaintext) besides
# what the server buffers; with 1 MiB chunks 200 concurrent 3.5 MB downloads took the API from
# 209 to 719 MiB of RSS, with 64 KiB to 266 MiB, and the throughput did not drop
# (benchmarks/bench_api_download.py --concurrent 200).
CHUNK_BYTES = 1 << 16


class ArtifactIntegrityError(SynthgenError):
    """A stored artifact does not match its recorded checksum or fails authentication."""


@dataclass
class DownloadStream:
    """An authorized, audited download, read chunk by chunk. Use it as a context manager or
    iterate it exactly once (iteration closes the file at the end)."""

    filename: str
    media_type: str
    sha256: str  # of the plaintext, as in the manifest
    size: int  # plaintext bytes
    release_id: int
    fmt: str
    _fh: BinaryIO = field(repr=False)
    _data_key: bytes = field(repr=False)
    _aad: bytes = field(repr=False)
    _nonce: bytes = field(repr=False)
    _tag: bytes = field(repr=False)
    _on_failure: Callable[[ArtifactIntegrityError], None] = field(repr=False)
    #: called with the bytes handed out when the reader stops before the end (client gone):
    #: the download is then audited as aborted, not only as the ``ok`` of its start
    _on_abort: Callable[[int], None] | None = field(default=None, repr=False)
    _started: bool = field(default=False, repr=False)

    def __iter__(self) -> Iterator[bytes]:
        if self._started:
            raise SynthgenError(f"the download of release {self.release_id} was already read; open it again")
        self._started = True
        return self._chunks()

    def _chunks(self) -> Iterator[bytes]:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        sent = 0
        try:
            decryptor = Cipher(algorithms.AES(self._data_key), modes.GCM(self._nonce, self._tag)).decryptor()
            decryptor.authenticate_additional_data(self._aad)
            digest = hashlib.sha256()
            remaining = self.size
            while remaining > 0:
                block = self._fh.read(min(CHUNK_BYTES, remaining))
                if not block:
                    raise ArtifactIntegrityError(f"artifact of release {self.release_id} was truncated while streaming")
                remaining -= len(block)
                out = decryptor.update(block)
                digest.update(out)
                sent += len(out)
                yield out
            try:
                decryptor.finalize()
            except InvalidTag:
                raise ArtifactIntegrityError(f"artifact of release {self.release_id} failed authentication") from None
            if digest.hexdigest() != self.sha256:
                raise ArtifactIntegrityError(
                    f"artifact of release {self.release_id} does not match its manifest SHA-256")
        except ArtifactIntegrityError as exc:
            self._on_failure(exc)
            raise
        except BaseException:  # GeneratorExit (the client went away), a server error mid-stream
            if self._on_abort is not None:
                self._on_abort(sent)
            raise
        finally:
            self.close()

    def read_all(self) -> bytes:
        """The whole file in memory (small files only; checks it like iteration does)."""
        return b"".join(self)

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> "DownloadStream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def check_ciphertext(fh: BinaryIO, *, plaintext_size: int, cipher_sha256: str, release_id: int) -> tuple[bytes, bytes]:
    """Hash the stored ciphertext in bounded memory and check its length and recorded SHA-256
    before any byte is handed out; return (nonce, tag) with ``fh`` positioned at the first
    ciphertext byte."""
    from app.core import crypto

    fh.seek(0, os.SEEK_END)
    total = fh.tell()
    if total - crypto.CT_OVERHEAD_BYTES != plaintext_size:
        raise ArtifactIntegrityError(f"artifact of release {release_id} has the wrong length")
    fh.seek(0)
    digest = hashlib.sha256()
    while block := fh.read(CHUNK_BYTES):
        digest.update(block)
    if digest.hexdigest() != cipher_sha256:
        raise ArtifactIntegrityError(f"artifact of release {release_id} does not match its recorded SHA-256")
    fh.seek(0)
    try:
        nonce = crypto.split_prefix(fh.read(crypto.CT_PREFIX_BYTES))
    except crypto.DecryptionError:
        raise ArtifactIntegrityError(f"artifact of release {release_id} has an unknown format version") from None
    fh.seek(total - crypto.TAG_BYTES)
    tag = fh.read(crypto.TAG_BYTES)
    fh.seek(crypto.CT_PREFIX_BYTES)
    return nonce, tag
