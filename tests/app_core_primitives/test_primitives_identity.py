"""Local accounts: password policy, Argon2id hashing, throttling, sessions, tokens."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from app.core import identity
from app.core.identity import (
    PasswordPolicy,
    SessionPolicy,
    WeakPasswordError,
    check_password,
    hash_password,
    hash_token,
    is_locked,
    looks_like_api_token,
    needs_rehash,
    new_api_token,
    new_session_token,
    session_expired,
    throttle_delay,
    verify_password,
)
from synthgen.errors import InvalidInputError

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def fast_hash(monkeypatch):
    monkeypatch.setenv("SYNTHGEN_FAST_HASH", "1")


# --------------------------------------------------------------------------- policy


@pytest.mark.parametrize(
    "password,fragment",
    [
        ("short-pass", "password (10 characters) must be at least 12 characters"),
        ("", "password (0 characters) must be at least 12 characters"),
        ("x" * 257, "password (257 characters) must be at most 256 characters"),
        ("alice.wonderland", "same as the username"),
        ("ALICE.WONDERLAND", "same as the username"),
        ("aaaaaaaaaaaaaaaa", "one character repeated"),
        ("password1234", "very common"),
        ("Password1234", "very common"),
        ("qwertyuiopas", "very common"),
        ("correct horse\x00battery", "NUL"),
    ],
)
def test_weak_passwords_rejected(password, fragment):
    with pytest.raises(WeakPasswordError) as info:
        check_password(password, PasswordPolicy(), username="alice.wonderland")
    message = str(info.value)
    assert fragment in message
    if len(password) >= 4:
        assert password not in message  # never echo the password
    assert isinstance(info.value, InvalidInputError)


@pytest.mark.parametrize(
    "password",
    ["correct horse battery", "x" * 12, "ünïcödé-pässwörd", "12-char-pass", "y" * 256, "Tr0ub4dor&3xyz"],
)
def test_acceptable_passwords(password):
    if len(set(password)) == 1:
        password = password[:-1] + "z"  # keep the exact length, not one repeated character
    check_password(password, PasswordPolicy(), username="alice")


def test_length_counts_characters_not_bytes():
    check_password("ééééééééééé1", PasswordPolicy(), username="bob")  # 12 characters, 23 bytes
    with pytest.raises(WeakPasswordError, match=r"\(11 characters\)"):
        check_password("éééééééééé1", PasswordPolicy(), username="bob")


def test_custom_policy_and_policy_floor():
    policy = PasswordPolicy(min_length=16, max_length=64)
    with pytest.raises(WeakPasswordError, match="at least 16"):
        check_password("fifteen-chars-x", policy, username="bob")
    check_password("sixteen-chars-xy", policy, username="bob")
    with pytest.raises(InvalidInputError, match="min_length"):
        PasswordPolicy(min_length=6)
    with pytest.raises(InvalidInputError, match="max_length"):
        PasswordPolicy(min_length=12, max_length=20)


# --------------------------------------------------------------------------- hashing


def test_hash_and_verify():
    h = hash_password("correct horse battery")
    assert h.startswith("$argon2id$")
    assert "correct horse battery" not in h
    assert verify_password(h, "correct horse battery")
    assert not verify_password(h, "correct horse batterY")
    assert not verify_password(h, "")
    assert hash_password("correct horse battery") != h  # salted


def test_verify_handles_garbage_hashes():
    assert not verify_password("not-a-hash", "whatever-password")
    assert not verify_password("", "whatever-password")
    assert not verify_password(hash_password("abc-def-ghi-jkl"), "x" * 5000)


def test_unicode_normalisation_makes_equivalent_input_verify():
    h = hash_password("caf\u00e9-au-lait-12")  # precomposed é
    assert verify_password(h, "cafe\u0301-au-lait-12")  # e + combining accent


def test_fast_mode_uses_cheap_params_and_standard_needs_rehash(monkeypatch):
    fast = hash_password("correct horse battery")
    assert "m=8," in fast and "t=1," in fast
    assert not needs_rehash(fast)
    monkeypatch.delenv("SYNTHGEN_FAST_HASH")
    assert needs_rehash(fast)  # production parameters differ: rehash on next login
    assert verify_password(fast, "correct horse battery")  # old hashes still verify
    assert needs_rehash("garbage")


# --------------------------------------------------------------------------- throttling


@pytest.mark.parametrize(
    "failures,expected",
    [(0, 0.0), (1, 0.0), (4, 0.0), (5, 30.0), (6, 60.0), (7, 120.0), (8, 240.0), (9, 480.0), (10, 900.0), (11, 900.0), (1000, 900.0)],
)
def test_throttle_curve(failures, expected):
    assert throttle_delay(failures, T0, T0) == expected
    assert is_locked(failures, T0, T0) is (expected > 0)


def test_throttle_counts_down_from_last_failure():
    assert throttle_delay(6, T0, T0 + timedelta(seconds=20)) == pytest.approx(40.0)
    assert throttle_delay(6, T0, T0 + timedelta(seconds=60)) == 0.0
    assert not is_locked(6, T0, T0 + timedelta(seconds=61))
    assert throttle_delay(50, T0, T0 + timedelta(minutes=14)) == pytest.approx(60.0)
    assert throttle_delay(50, T0, T0 + timedelta(minutes=15)) == 0.0


def test_throttle_fails_closed_and_tolerates_clock_skew():
    assert throttle_delay(5, None, T0) == 30.0
    assert throttle_delay(5, T0, T0 - timedelta(hours=1)) == 30.0  # clock went backwards: never longer
    naive = T0.replace(tzinfo=None)
    assert throttle_delay(6, naive, T0 + timedelta(seconds=30)) == pytest.approx(30.0)  # naive = UTC
    with pytest.raises(InvalidInputError):
        throttle_delay(-1, T0, T0)


# --------------------------------------------------------------------------- sessions & tokens


def test_session_tokens_are_random_and_only_hashes_stored():
    a, b = new_session_token(), new_session_token()
    assert a != b and len(a) >= 43
    assert hash_token(a) == hash_token(a) != hash_token(b)
    assert len(hash_token(a)) == 64 and a not in hash_token(a)


def test_session_fresh_is_valid():
    policy = SessionPolicy()
    assert session_expired(T0, T0, T0, policy) is None
    assert session_expired(T0, T0 + timedelta(hours=11), T0 + timedelta(hours=11, minutes=29), policy) is None


def test_session_idle_timeout():
    policy = SessionPolicy()
    reason = session_expired(T0, T0, T0 + timedelta(minutes=30), policy)
    assert reason is not None and "idle" in reason and "30 minutes" in reason
    assert session_expired(T0, T0, T0 + timedelta(minutes=29, seconds=59), policy) is None


def test_session_absolute_timeout_even_when_active():
    policy = SessionPolicy()
    reason = session_expired(T0, T0 + timedelta(hours=12), T0 + timedelta(hours=12), policy)
    assert reason is not None and "absolute" in reason and "12 hours" in reason
    custom = SessionPolicy(idle_timeout=timedelta(minutes=5), absolute_timeout=timedelta(hours=1))
    assert "idle" in session_expired(T0, T0, T0 + timedelta(minutes=6), custom)
    assert "absolute" in session_expired(T0, T0 + timedelta(minutes=59), T0 + timedelta(minutes=61), custom)
    with pytest.raises(InvalidInputError):
        SessionPolicy(idle_timeout=timedelta(0))


def test_api_tokens():
    token, prefix = new_api_token()
    other, _ = new_api_token()
    assert token.startswith("sgt_") and prefix.startswith("sgt_")
    assert token.startswith(prefix) and len(prefix) == identity.API_TOKEN_DISPLAY_CHARS < len(token)
    assert token != other
    assert looks_like_api_token(token)
    assert not looks_like_api_token(new_session_token())
    assert not looks_like_api_token(token + "x")
    assert hash_token(token) != hash_token(other)
