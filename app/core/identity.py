"""Local accounts: password policy and hashing, login throttling, sessions, API tokens.

Pure functions only: the caller stores users, hashes, counters and timestamps. Passwords and
tokens never appear in exception messages.

* Password policy follows NIST SP 800-63B §5.1.1: a length floor and ceiling, no composition
  rules, no forced rotation, a check against common passwords, the username and trivially
  repetitive strings. Passwords are NFKC-normalised before checking and hashing (800-63B
  §5.1.1.2), so the same password typed on different keyboards verifies.
* Hashing is Argon2id via argon2-cffi (RFC 9106 "low memory" defaults); with
  ``SYNTHGEN_FAST_HASH=1`` (tests only) the cheapest valid parameters are used.
* Datetimes: naive values are taken as UTC (SQLite returns naive datetimes even for
  ``DateTime(timezone=True)`` columns); aware values are converted to UTC.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from synthgen.errors import InvalidInputError

__all__ = [
    "FAST_HASH_ENV",
    "WeakPasswordError",
    "PasswordPolicy",
    "check_password",
    "hash_password",
    "verify_password",
    "needs_rehash",
    "THROTTLE_FREE_ATTEMPTS",
    "THROTTLE_BASE_SECONDS",
    "THROTTLE_MAX_SECONDS",
    "throttle_delay",
    "is_locked",
    "new_session_token",
    "hash_token",
    "tokens_equal",
    "SessionPolicy",
    "session_expired",
    "API_TOKEN_PREFIX",
    "new_api_token",
    "looks_like_api_token",
]

FAST_HASH_ENV = "SYNTHGEN_FAST_HASH"
NIST_MIN_LENGTH = 8  # 800-63B: never accept a policy below 8 characters
MAX_VERIFY_LENGTH = 4096  # longer inputs are rejected before hashing (DoS guard)


class WeakPasswordError(InvalidInputError):
    """A new password breaks the password policy."""


# --------------------------------------------------------------------------- policy

# A small built-in deny-list of very common passwords (from public breach top lists), compared
# case-insensitively after NFKC normalisation. Entries shorter than the policy minimum are
# already rejected by length; they stay here in case a deployment lowers the minimum.
COMMON_PASSWORDS: frozenset[str] = frozenset(
    p.casefold()
    for p in (
        "password", "password1", "password12", "password123", "password1234", "password12345",
        "password123456", "passw0rd", "p@ssw0rd", "p@ssword123", "passwordpassword",
        "123456789", "1234567890", "12345678910", "123456789012", "1234567890123",
        "12345678901234", "123123123123", "111111111111", "000000000000", "987654321000",
        "qwertyuiop", "qwertyuiopas", "qwertyuiop123", "qwerty123456", "qwertyqwerty",
        "1q2w3e4r5t6y", "1qaz2wsx3edc", "zaq12wsxcde3", "asdfghjkl123", "asdfasdfasdf",
        "iloveyou1234", "iloveyouiloveyou", "letmein12345", "letmeinletmein", "welcome12345",
        "welcome123456", "welcometothejungle", "changeme1234", "changemenow!", "administrator",
        "administrator1", "admin1234567", "adminadminadmin", "superman1234", "trustno1trustno1",
        "football1234", "baseball1234", "monkey123456", "sunshine1234", "princess1234",
        "dragon123456", "starwars1234", "whatever1234", "correcthorsebatterystaple",
        "abc123456789", "abcdefghijkl", "abcd1234abcd", "aa12345678aa", "passwordqwerty",
        "secret123456", "mypassword123", "default12345", "synthgen1234", "synthgenadmin",
    )
)


@dataclass(frozen=True)
class PasswordPolicy:
    min_length: int = 12
    max_length: int = 256

    def __post_init__(self) -> None:
        if not isinstance(self.min_length, int) or self.min_length < NIST_MIN_LENGTH:
            raise InvalidInputError(
                f"min_length ({self.min_length}) must be at least {NIST_MIN_LENGTH} (NIST SP 800-63B)"
            )
        if not isinstance(self.max_length, int) or self.max_length < max(64, self.min_length):
            raise InvalidInputError(
                f"max_length ({self.max_length}) must be at least 64 (NIST SP 800-63B) and at least min_length"
            )


def _normalize(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


def check_password(password: str, policy: PasswordPolicy, *, username: str) -> None:
    """Raise :class:`WeakPasswordError` unless ``password`` satisfies ``policy``.

    Rules: length (in characters, after NFKC) between the policy bounds; no NUL; not the
    username; not a single repeated character; not in :data:`COMMON_PASSWORDS`.
    """
    if not isinstance(password, str):
        raise WeakPasswordError(f"password must be text, not {type(password).__name__}")
    pw = _normalize(password)
    n = len(pw)
    if n < policy.min_length:
        raise WeakPasswordError(f"password ({n} characters) must be at least {policy.min_length} characters")
    if n > policy.max_length:
        raise WeakPasswordError(f"password ({n} characters) must be at most {policy.max_length} characters")
    if "\x00" in pw:
        raise WeakPasswordError("password must not contain NUL characters")
    folded = pw.casefold()
    if isinstance(username, str) and username.strip() and folded.strip() == _normalize(username).casefold().strip():
        raise WeakPasswordError("password must not be the same as the username")
    if len(set(folded)) == 1:
        raise WeakPasswordError(f"password ({n} characters) must not be one character repeated")
    if folded in COMMON_PASSWORDS:
        raise WeakPasswordError("password is on the list of very common passwords; choose another one")


# --------------------------------------------------------------------------- hashing


def _hasher() -> PasswordHasher:
    """Argon2id hasher; parameters read from the environment at each call (no global state)."""
    if os.environ.get(FAST_HASH_ENV) == "1":
        # Cheapest valid Argon2id parameters: for the test-suite only.
        return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, hash_len=16, salt_len=16, type=Type.ID)
    # argon2-cffi defaults = RFC 9106 low-memory profile: t=3, m=64 MiB, p=4.
    return PasswordHasher(type=Type.ID)


def hash_password(password: str) -> str:
    """Argon2id PHC string (``$argon2id$v=19$...``) of the NFKC-normalised password."""
    if not isinstance(password, str):
        raise InvalidInputError(f"password must be text, not {type(password).__name__}")
    return _hasher().hash(_normalize(password))


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches ``password_hash``; False on mismatch or unusable input.

    A malformed stored hash also yields False (never an exception carrying the hash); callers
    that want to notice corrupted rows can check ``password_hash.startswith("$argon2id$")``.
    """
    if not isinstance(password_hash, str) or not isinstance(password, str):
        return False
    if len(password) > MAX_VERIFY_LENGTH:
        return False
    try:
        return _hasher().verify(password_hash, _normalize(password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with other parameters than the current ones (rehash at login)."""
    try:
        return _hasher().check_needs_rehash(password_hash)
    except (InvalidHashError, ValueError):
        return True


# --------------------------------------------------------------------------- throttling

THROTTLE_FREE_ATTEMPTS = 5  # failures allowed before any delay
THROTTLE_BASE_SECONDS = 30.0  # delay after the 5th failure; doubles with each further one
THROTTLE_MAX_SECONDS = 15 * 60.0


def _utc(dt: datetime, name: str) -> datetime:
    if not isinstance(dt, datetime):
        raise InvalidInputError(f"{name} ({type(dt).__name__}) must be a datetime")
    if dt.tzinfo is None or dt.utcoffset() is None:
        return dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def _full_delay(failed_attempts: int) -> float:
    if isinstance(failed_attempts, bool) or not isinstance(failed_attempts, int) or failed_attempts < 0:
        raise InvalidInputError(f"failed_attempts ({failed_attempts!r}) must be a non-negative integer")
    if failed_attempts < THROTTLE_FREE_ATTEMPTS:
        return 0.0
    exponent = failed_attempts - THROTTLE_FREE_ATTEMPTS
    if exponent >= 16:  # 30 * 2**16 is far beyond the cap; avoid huge ints
        return THROTTLE_MAX_SECONDS
    return min(THROTTLE_MAX_SECONDS, THROTTLE_BASE_SECONDS * 2**exponent)


def throttle_delay(failed_attempts: int, last_failure_at: datetime | None, now: datetime) -> float:
    """Seconds the account must still wait before the next login attempt is even checked.

    0 for fewer than 5 consecutive failures; then 30 s, 60 s, 120 s ... doubling per failure,
    capped at 15 minutes, counted from ``last_failure_at``. The caller resets the counter on a
    successful login and records ``last_failure_at`` with every failure. If the counter says
    the account is throttled but no failure time is known, the full delay is returned (fail
    closed). A clock that went backwards never makes the wait longer than the full delay.
    """
    full = _full_delay(failed_attempts)
    if full == 0.0:
        return 0.0
    now_u = _utc(now, "now")
    if last_failure_at is None:
        return full
    elapsed = (now_u - _utc(last_failure_at, "last_failure_at")).total_seconds()
    return float(min(full, max(0.0, full - elapsed)))


def is_locked(failed_attempts: int, last_failure_at: datetime | None, now: datetime) -> bool:
    """True while :func:`throttle_delay` is positive: refuse to even check the password."""
    return throttle_delay(failed_attempts, last_failure_at, now) > 0.0


# --------------------------------------------------------------------------- tokens & sessions


def new_session_token() -> str:
    """256 bits of randomness, URL-safe. Give it to the browser; store only :func:`hash_token`."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """SHA-256 hex of a session or API token. Tokens have 256 random bits, so no salt/KDF is needed."""
    if not isinstance(token, str) or not token:
        raise InvalidInputError("token must be a non-empty string")
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def tokens_equal(a: str, b: str) -> bool:
    """Constant-time comparison of two token hashes."""
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


@dataclass(frozen=True)
class SessionPolicy:
    idle_timeout: timedelta = timedelta(minutes=30)
    absolute_timeout: timedelta = timedelta(hours=12)

    def __post_init__(self) -> None:
        for name in ("idle_timeout", "absolute_timeout"):
            value = getattr(self, name)
            if not isinstance(value, timedelta) or value <= timedelta(0):
                raise InvalidInputError(f"{name} ({value!r}) must be a positive timedelta")


def session_expired(
    created_at: datetime, last_seen_at: datetime, now: datetime, policy: SessionPolicy
) -> str | None:
    """Why the session is no longer valid, or None if it is.

    The absolute timeout is checked first (re-authentication is required however active the
    user is); then the idle timeout. A session exactly at a limit is expired.
    """
    c, s, n = _utc(created_at, "created_at"), _utc(last_seen_at, "last_seen_at"), _utc(now, "now")
    if n - c >= policy.absolute_timeout:
        return f"session expired: older than the absolute limit of {_fmt(policy.absolute_timeout)}; please sign in again"
    if n - s >= policy.idle_timeout:
        return f"session expired: idle for more than {_fmt(policy.idle_timeout)}; please sign in again"
    return None


def _fmt(td: timedelta) -> str:
    minutes = int(td.total_seconds() // 60)
    if minutes and minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour{'s' if hours != 1 else ''}"
    if minutes:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{td.total_seconds():g} seconds"


API_TOKEN_PREFIX = "sgt_"
API_TOKEN_DISPLAY_CHARS = 12  # "sgt_" + 8 random characters


def new_api_token() -> tuple[str, str]:
    """A new API token and its display prefix.

    The token is ``sgt_`` + 43 URL-safe characters (256 bits); show it once, store
    :func:`hash_token` of it. The prefix (``sgt_`` + first 8 random characters) is not secret:
    store it in clear to let users recognise their tokens in lists and secret scanners find leaks.
    """
    token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, token[:API_TOKEN_DISPLAY_CHARS]


def looks_like_api_token(text: str) -> bool:
    """Cheap syntactic check before any lookup (e.g. reject session tokens sent as API tokens)."""
    if not isinstance(text, str) or not text.startswith(API_TOKEN_PREFIX):
        return False
    body = text[len(API_TOKEN_PREFIX) :]
    return len(body) == 43 and all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in body)
