"""Fixed-point arithmetic in the ring Z_(2^64), the ring the masks live in.

Why a ring at all: a pairwise mask is only a one-time pad if it is uniform over the space the
masked value lives in. Uniform masks exist on a finite group, not on floats, so every value is
encoded as an integer modulo 2^64 first; masks added modulo 2^64 then hide it perfectly (given
the mask keys), and they cancel exactly in the sum.

Why ``frac_bits = 0`` for marginals: counts are integers and the noise is OpenDP's *discrete*
Gaussian, so every value a site masks is an integer. Encoding with fractional bits would only be
needed for real-valued noise, and then each site would round its own noisy value: the sum of
rounded values is not a function of the sum of unrounded ones, so the "one central Gaussian"
argument would no longer hold exactly. Integers keep the sum exact.

No wraparound: decoding reads the sum as a signed integer in [-2^63, 2^63). Each site checks that
every value it encodes has absolute value at most ``max_abs``; the coordinator checks, before the
first round, that ``n_sites * max_abs * 2^frac_bits < 2^63``, so the true sum can never wrap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthgen.errors import ErrorKind, InvalidInputError, SynthgenError

RING_BITS = 64
#: |value| a site may encode. Counts are at most the table's rows (< 2^40 for any real table) and
#: the noise is a discrete Gaussian of standard deviation well below 2^20, so a value beyond this
#: bound has probability far below 2^-1000; a site that meets one aborts instead of wrapping.
MAX_ABS_VALUE = 2**40


class RingOverflowError(SynthgenError):
    """A value would not fit the ring without wrapping around; the round is aborted."""
    kind = ErrorKind.BAD_INPUT


@dataclass(frozen=True)
class FixedPointRing:
    frac_bits: int = 0
    max_abs: int = MAX_ABS_VALUE

    def __post_init__(self) -> None:
        if not isinstance(self.frac_bits, int) or not 0 <= self.frac_bits <= 24:
            raise InvalidInputError(f"frac_bits ({self.frac_bits!r}) must be an integer between 0 and 24")

    def check_capacity(self, n_sites: int) -> None:
        """The sum of ``n_sites`` encoded values cannot wrap around (checked before any round)."""
        if n_sites * self.max_abs * 2**self.frac_bits >= 2 ** (RING_BITS - 1):
            raise InvalidInputError(
                f"sites ({n_sites}) too many for the 64-bit ring at {self.frac_bits} fractional bits: the sum could wrap"
            )

    def encode(self, values) -> np.ndarray:
        scaled = np.rint(np.asarray(values, dtype=np.float64) * 2**self.frac_bits) if self.frac_bits else np.asarray(values)
        as_int = np.asarray(scaled, dtype=np.int64)
        if as_int.size and int(np.abs(as_int).max()) > self.max_abs * 2**self.frac_bits:
            raise RingOverflowError("a value exceeds the ring's per-site bound; the round is aborted")
        # two's complement: int64 -> uint64 is exactly "x mod 2^64"
        return as_int.astype(np.uint64)

    def decode(self, ring_values: np.ndarray) -> np.ndarray:
        signed = np.asarray(ring_values, dtype=np.uint64).astype(np.int64)
        return signed / 2**self.frac_bits if self.frac_bits else signed


def ring_sum(vectors: list[np.ndarray]) -> np.ndarray:
    """Sum modulo 2^64 (numpy's uint64 addition wraps, which is exactly the ring's addition)."""
    total = np.zeros_like(vectors[0], dtype=np.uint64)
    for v in vectors:
        total = total + np.asarray(v, dtype=np.uint64)
    return total
