"""Sign-in under abuse: the password check holds no database lock, guessing and spraying are
slowed per address, and nobody can lock another person out of their account."""

from __future__ import annotations

import threading
import time

import pytest

from app.core import identity
from app.core.services import AuthenticationError, ThrottledError
from core_helpers import PASSWORD, make_team


def test_password_check_holds_no_database_lock(platform, monkeypatch):
    make_team(platform)
    real = identity.verify_password
    checking = threading.Event()

    def slow_verify(stored, password):
        checking.set()
        time.sleep(1.5)
        return real(stored, password)

    monkeypatch.setattr(identity, "verify_password", slow_verify)
    failed = []
    t = threading.Thread(target=lambda: failed.append(pytest.raises(AuthenticationError,
                                                                    platform.login, "owner", "wrong password")))
    t.start()
    assert checking.wait(10)
    started = time.perf_counter()
    platform.record(actor="test", action="probe", outcome="ok", target="-", details={})  # an audited write
    elapsed = time.perf_counter() - started
    t.join()
    assert failed and elapsed < 0.75, f"an audited write waited {elapsed:.2f} s for a password check"


def test_wrong_passwords_from_elsewhere_never_lock_the_owner_out(platform):
    make_team(platform)
    platform.login("owner", PASSWORD, source="192.168.1.5")  # the owner's usual address
    for i in range(40):  # an attacker, from one address and then from many
        with pytest.raises(AuthenticationError):
            platform.login("owner", "guess %d" % i, source="10.0.0.66" if i < 6 else f"10.1.0.{i}")
    with pytest.raises(ThrottledError):  # the attacker's address is slowed for this account...
        platform.login("owner", PASSWORD, source="10.0.0.66")
    with pytest.raises(ThrottledError):  # ...and so is any new address, for this account only
        platform.login("owner", PASSWORD, source="10.9.9.9")
    assert platform.login("owner", PASSWORD, source="192.168.1.5").actor.username == "owner"
    assert platform.login("officer", PASSWORD, source="10.9.9.9").actor.username == "officer"


def test_a_few_typos_do_not_lock_anyone(platform):
    make_team(platform)
    for _ in range(6):  # five wrong passwords locked any account before
        with pytest.raises(AuthenticationError):
            platform.login("owner", "typo", source="10.0.0.1")
    assert platform.login("owner", PASSWORD, source="10.0.0.2").actor.username == "owner"


def test_spraying_and_unknown_names_are_throttled_per_address(platform):
    make_team(platform)
    names = ["owner", "officer", "ml", "admin", "nobody", "ghost"] * 4
    for name in names[:20]:
        with pytest.raises(AuthenticationError) as info:
            platform.login(name, "Winter2026!", source="203.0.113.7")
        assert not isinstance(info.value, ThrottledError)
    with pytest.raises(AuthenticationError):
        platform.login("ghost", "Winter2026!", source="203.0.113.7")
    with pytest.raises(ThrottledError) as info:  # refused before any hash: even the right password
        platform.login("officer", PASSWORD, source="203.0.113.7")
    assert info.value.retry_after >= 1 and "try again in" in str(info.value)
    assert platform.login("officer", PASSWORD, source="198.51.100.1").actor.username == "officer"
    admin = platform.login("admin", PASSWORD).actor
    throttled = [e for e in platform.audit_log(admin, action="login") if e.details.get("reason") == "throttled"]
    assert throttled and throttled[-1].details["source"] == "203.0.113.7"


def test_a_flood_of_refused_attempts_writes_one_entry_per_address_and_minute(platform):
    make_team(platform)
    for i in range(25):
        with pytest.raises(AuthenticationError):
            platform.login(f"bot{i}", "x", source="203.0.113.99")
    for _ in range(50):
        with pytest.raises(ThrottledError):
            platform.login("bot", "x", source="203.0.113.99")
    admin = platform.login("admin", PASSWORD).actor
    throttled = [e for e in platform.audit_log(admin, action="login", limit=10_000)
                 if e.details.get("reason") == "throttled"]
    assert len(throttled) == 1 and throttled[0].details["refused"] == 1  # the rest is counted for the next


def test_the_api_and_the_dashboard_share_the_counters(platform, settings, monkeypatch):
    """Two processes on one database (the API and the dashboard, or two workers) count failures
    together: alternating between them does not double the guessing rate. A refused attempt in
    either costs no hash, and the owner's usual address stays open in both."""
    from app.core.services import Platform

    make_team(platform)
    platform.login("owner", PASSWORD, source="192.168.1.5")  # trusted address, learnt by "the API"
    other = Platform.open(settings)  # "the dashboard"
    try:
        for i in range(4):  # the pair allowance (4) spent half in each process
            with pytest.raises(AuthenticationError) as info:
                (platform if i % 2 else other).login("owner", f"guess {i}", source="10.0.0.66")
            assert not isinstance(info.value, ThrottledError)
        with pytest.raises(AuthenticationError):
            other.login("owner", "guess 4", source="10.0.0.66")
        hashed = []
        real = identity.verify_password
        monkeypatch.setattr(identity, "verify_password", lambda *a: hashed.append(1) or real(*a))
        for p in (platform, other):  # refused in both, before any hash
            with pytest.raises(ThrottledError):
                p.login("owner", PASSWORD, source="10.0.0.66")
        assert hashed == []
        assert other.login("owner", PASSWORD, source="192.168.1.5").actor.username == "owner"
        assert other.login("officer", PASSWORD, source="10.0.0.66").actor.username == "officer"
    finally:
        other.close()


def test_database_counters_forget_old_failures_and_take_back_the_newest(engine):
    from sqlalchemy import func, select

    from app.core.store import LoginFailure
    from app.core.throttle import DatabaseCounters, LoginThrottle, ThrottlePolicy

    clock = [1_000.0]
    t = LoginThrottle(ThrottlePolicy(free_per_pair=1, window=600.0), lambda: clock[0],
                      counters=DatabaseCounters(engine, prune_every=0.0))
    t.failed("alice", "10.0.0.9")
    t.failed("alice", "10.0.0.9")
    assert t.retry_after("alice", "10.0.0.9") == pytest.approx(1.0)
    assert t.begin("alice", "10.0.0.9") == pytest.approx(1.0)  # refused: nothing written
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(LoginFailure)).scalar_one() == 6
    clock[0] += 2
    assert t.begin("alice", "10.0.0.9") == 0  # admitted: counted as failed until it succeeds
    t.end("10.0.0.9")
    t.succeeded("alice", "10.0.0.9")  # takes it back and clears the pair
    assert t.retry_after("alice", "10.0.0.9") == 0
    clock[0] += 601
    t.failed("bob", "10.0.0.10")  # the next write prunes what the window forgot
    with engine.connect() as c:
        keys = set(c.execute(select(LoginFailure.key)).scalars())
    assert keys == {"source|10.0.0.10", "pair|bob|10.0.0.10", "account|bob"}
