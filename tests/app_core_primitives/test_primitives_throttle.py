"""Sign-in throttle: spraying and guessing slowed, nobody locked out of someone else's account."""

from __future__ import annotations

import pytest

from app.core.throttle import LoginThrottle, ThrottlePolicy


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


POLICY = ThrottlePolicy(free_per_source=10, free_per_pair=3, free_per_account=6, base_delay=1.0, max_delay=60.0,
                        window=600.0)


@pytest.fixture
def clock():
    return Clock()


def test_guessing_one_account_from_one_address_backs_off_exponentially(clock):
    t = LoginThrottle(POLICY, clock)
    for _ in range(3):
        assert t.retry_after("alice", "10.0.0.9") == 0
        t.failed("alice", "10.0.0.9")
    assert t.retry_after("alice", "10.0.0.9") == 0  # the free allowance is 3 failures
    t.failed("alice", "10.0.0.9")
    assert t.retry_after("alice", "10.0.0.9") == pytest.approx(1.0)
    clock.t += 1.0
    t.failed("alice", "10.0.0.9")
    assert t.retry_after("alice", "10.0.0.9") == pytest.approx(2.0)
    for _ in range(20):
        t.failed("alice", "10.0.0.9")
    assert t.retry_after("alice", "10.0.0.9") == pytest.approx(60.0)  # capped
    clock.t += 601
    assert t.retry_after("alice", "10.0.0.9") == 0  # forgotten after the window: never a permanent lock


def test_an_attacker_cannot_lock_the_owner_out(clock):
    t = LoginThrottle(POLICY, clock)
    t.succeeded("alice", "192.168.1.5")  # alice's usual address
    for i in range(200):  # distributed guessing from many addresses
        t.failed("alice", f"10.0.{i // 250}.{i % 250}")
    assert t.retry_after("alice", "10.0.9.9") > 0  # a new address is slowed for alice's account
    assert t.retry_after("alice", "192.168.1.5") == 0  # alice herself is not
    assert t.retry_after("bob", "10.0.9.9") == 0  # nor anyone else


def test_spraying_and_unknown_names_are_slowed_per_address(clock):
    t = LoginThrottle(POLICY, clock)
    for i in range(10):
        t.failed(f"user{i}", "10.0.0.66")  # one guess per name: no pair counter trips
    assert t.retry_after("user99", "10.0.0.66") == 0
    t.failed("nobody-at-all", "10.0.0.66")
    assert t.retry_after("someone-new", "10.0.0.66") == pytest.approx(1.0)
    assert t.retry_after("someone-new", "10.0.0.67") == 0  # another address is unaffected


def test_success_clears_the_pair_but_not_the_address(clock):
    t = LoginThrottle(POLICY, clock)
    for _ in range(4):
        t.failed("mallory", "10.0.0.5")
    assert t.retry_after("mallory", "10.0.0.5") > 0
    t.succeeded("mallory", "10.0.0.5", counted=False)
    assert t.retry_after("mallory", "10.0.0.5") == 0
    for i in range(11):  # own successes do not reset the per-address spraying counter
        t.failed(f"victim{i}", "10.0.0.5")
        t.succeeded("mallory", "10.0.0.5", counted=False)
    assert t.retry_after("victim0", "10.0.0.5") > 0


def test_memory_is_bounded(clock):
    t = LoginThrottle(ThrottlePolicy(max_keys=1000), clock)
    for i in range(5000):
        t.failed(f"u{i}", f"10.{i // 65536}.{i // 256 % 256}.{i % 256}")
    assert len(t.counters._counters) <= 1000 + 3


def test_concurrent_attempts_cannot_share_one_free_slot(clock):
    t = LoginThrottle(POLICY, clock)
    for _ in range(3):
        t.failed("alice", "10.0.0.9")
    admitted = [t.begin("alice", "10.0.0.9") == 0 for _ in range(8)]  # eight at once, none finished
    assert admitted == [True] + [False] * 7
    t.end("10.0.0.9")
    t.succeeded("alice", "10.0.0.9")  # the admitted one had the right password
    assert t.retry_after("alice", "10.0.0.9") == 0


def test_checks_in_flight_are_bounded_per_process(clock):
    t = LoginThrottle(ThrottlePolicy(max_concurrent_checks=2, slot_wait=0.05), clock)
    assert t.begin("a", "10.0.0.1") == 0 and t.begin("b", "10.0.0.2") == 0
    assert t.begin("c", "10.0.0.3") > 0  # both slots busy: refused after a short wait, not queued forever
    t.end("10.0.0.1")
    assert t.begin("c", "10.0.0.3") == 0
