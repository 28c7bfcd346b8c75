"""Pairwise masks for secure aggregation (Bonawitz et al., CCS 2017, honest-abort variant).

Each site i holds a fresh X25519 key pair per fit. For every other site j it derives the shared
secret s_ij = X25519(sk_i, pk_j) = X25519(sk_j, pk_i). For each masked vector it then derives a
32-byte key with HKDF-SHA256 from s_ij, whose ``info`` binds everything that identifies the vector:
the fit, the hash of the measurement plan, the round, the measurement and the (ordered) pair. The
key is expanded by ChaCha20 into a vector of uniform 64-bit words. Site i adds the mask for every
j > i and subtracts it for every j < i (names in byte order), so all masks cancel in the sum.

Why each choice:

* **Fresh ephemeral keys per fit** (never the TLS key): a compromise of a long-term key later
  does not unmask old transcripts, and X25519 is not used with a key that also signs.
* **Signed announcements**: each site signs its X25519 public key with its certificate's key over
  (fit, site); every site verifies every peer's signature against the federation CA and the names
  its owner approved. Otherwise the coordinator relaying the keys could substitute its own and
  unmask everyone (a man in the middle on the key exchange).
* **Signing with the TLS key** is domain-separated: TLS 1.3 signs a 64-space prefix and a
  context string, we sign JSON starting with ``["synthgen-federation-v1","announce",...``, so
  neither signature can be passed off as the other.
* **HKDF per (fit, plan, round, measurement, pair)**: a mask is a one-time pad and must never be
  used twice; two vectors under the same mask would reveal their difference. The plan hash in
  ``info`` also means that a coordinator who shows different plans to different sites gets masks
  that do not cancel, i.e. noise, instead of a sum over inconsistent data.
* **ChaCha20 with a zero nonce**: safe because each derived key encrypts exactly one stream.
* **Z_(2^64)**: a uniform word added modulo 2^64 is a perfect one-time pad for a ring element.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from synthgen.errors import ErrorKind, SynthgenError

PROTOCOL = "synthgen-federation-v1"


class KeyAgreementError(SynthgenError):
    """A peer's key announcement is missing, malformed or not signed by an approved site."""
    kind = ErrorKind.BAD_INPUT


@dataclass(frozen=True)
class MaskContext:
    """Everything a mask is bound to; two different contexts give independent masks."""

    fit_id: str
    #: SHA-256 over the plan's hash, the round index and the round's marginals (RoundSpec.sha256)
    plan_sha256: str
    round_index: int
    measurement: str

    def info(self, low: str, high: str) -> bytes:
        fields = [PROTOCOL, "mask", self.fit_id, self.plan_sha256, self.round_index, self.measurement, low, high]
        return json.dumps(fields, separators=(",", ":")).encode()


def new_key_pair() -> X25519PrivateKey:
    return X25519PrivateKey.generate()


def public_bytes(key: X25519PrivateKey | X25519PublicKey) -> bytes:
    public = key.public_key() if isinstance(key, X25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def announcement_message(fit_id: str, site: str, x25519_public: bytes) -> bytes:
    """What a site signs: domain-separated, so the signature cannot be replayed in another fit."""
    return json.dumps([PROTOCOL, "announce", fit_id, site, x25519_public.hex()], separators=(",", ":")).encode()


def sign_announcement(signing_key: ec.EllipticCurvePrivateKey, fit_id: str, site: str, x25519_public: bytes) -> bytes:
    return signing_key.sign(announcement_message(fit_id, site, x25519_public), ec.ECDSA(hashes.SHA256()))


def verify_announcement(cert: x509.Certificate, fit_id: str, site: str, x25519_public: bytes, signature: bytes) -> None:
    """The certificate (already checked against the CA by the caller) signed this site's key."""
    public = cert.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey):
        raise KeyAgreementError(f"site {site!r}: certificate key must be an EC key")
    try:
        public.verify(signature, announcement_message(fit_id, site, x25519_public), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise KeyAgreementError(f"site {site!r}: key announcement signature does not verify") from None


def _pair_key(own: X25519PrivateKey, peer_public: bytes, context: MaskContext, low: str, high: str) -> bytes:
    try:
        shared = own.exchange(X25519PublicKey.from_public_bytes(peer_public))
    except ValueError:  # cryptography refuses low-order points (all-zero shared secret)
        raise KeyAgreementError("peer X25519 key is invalid (low-order point)") from None
    salt = hashlib.sha256(f"{PROTOCOL}/{context.fit_id}".encode()).digest()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=context.info(low, high)).derive(shared)


def expand(key: bytes, length: int) -> np.ndarray:
    """``length`` uniform 64-bit words from ChaCha20's keystream (one stream per key)."""
    encryptor = Cipher(algorithms.ChaCha20(key, b"\x00" * 16), mode=None).encryptor()
    stream = encryptor.update(b"\x00" * (8 * length)) + encryptor.finalize()
    return np.frombuffer(stream, dtype="<u8").astype(np.uint64)


def mask_for(own_name: str, own_key: X25519PrivateKey, peers: dict[str, bytes], context: MaskContext, length: int) -> np.ndarray:
    """The sum of this site's pairwise masks (+ towards larger names, - towards smaller)."""
    total = np.zeros(length, dtype=np.uint64)
    for name, peer_public in sorted(peers.items()):
        if name == own_name:
            continue
        low, high = sorted((own_name, name))
        stream = expand(_pair_key(own_key, peer_public, context, low, high), length)
        # uint64 arithmetic wraps, which is exactly addition/subtraction modulo 2^64
        total = total + stream if own_name == low else total - stream
    return total
