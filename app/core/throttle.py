"""Sign-in throttling that slows guessing without letting anyone lock out someone else.

Three counters of recent failed sign-ins, each with exponential back-off once it passes its free
allowance (``base_delay`` doubling per further failure, at most ``max_delay``):

* per **source address** (any user name, known or not): slows password spraying and
  user-name probing from one place;
* per **account and source**: slows guessing one account from one place;
* per **account** from sources that never signed in to it successfully: slows a distributed
  attack on one account. Addresses from which the account signed in before are exempt, so an
  attacker elsewhere cannot keep its owner out (the owner's usual address still gets through).

A refused attempt is answered before any password hash is computed, so a flood costs the
platform almost nothing. :meth:`LoginThrottle.begin` counts an attempt as failed *before* its
hash is checked (and :meth:`succeeded` takes it back): concurrent attempts therefore cannot all
slip through the same free slot while the first ones are still hashing (eight threads of a flood
otherwise ran eight Argon2 checks at every slot). Nothing here locks an account: every counter forgets failures older
than ``window``, and a success from an address clears that address's pair counter.

State lives in the process (the API and the dashboard each keep their own): it guards the
hashing cost and the guessing rate, not a security boundary that must survive a restart.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class ThrottlePolicy:
    free_per_source: int = 20  # failures from one address before it is slowed (any user names)
    free_per_pair: int = 4  # failures for one account from one address (the 5th is slowed)
    free_per_account: int = 20  # failures for one account from addresses it never signed in from
    base_delay: float = 1.0  # seconds after the first failure over the allowance; doubles each time
    max_delay: float = 900.0
    window: float = 3600.0  # failures older than this are forgotten
    max_keys: int = 100_000  # memory bound under a flood of distinct addresses/names
    #: password checks running at once in this process (Argon2 is CPU- and memory-hard: a flood
    #: must leave cores to everything else), and per source address
    max_concurrent_checks: int = max(1, (os.cpu_count() or 2) // 2)
    slot_wait: float = 2.0  # seconds an attempt waits for a free check before it is refused


@dataclass
class _Counter:
    failures: deque = field(default_factory=deque)  # monotonic times


class LoginThrottle:
    def __init__(self, policy: ThrottlePolicy = ThrottlePolicy(), clock: Callable[[], float] = time.monotonic):
        self.policy, self.clock = policy, clock
        self._lock = threading.Lock()
        self._counters: dict[tuple, _Counter] = {}
        self._trusted: dict[str, set[str]] = {}  # account -> addresses it signed in from
        self._inflight: dict[str, int] = {}  # source -> checks running
        self._refusals: dict[str, tuple[float, int]] = {}  # source -> (last reported, refused since)
        self._slots = threading.BoundedSemaphore(policy.max_concurrent_checks)

    @staticmethod
    def _account(username: str) -> str:
        return str(username).strip().lower()[:64]

    def _keys(self, username: str, source: str) -> list[tuple[tuple, int]]:
        account = self._account(username)
        keys = [(("source", source), self.policy.free_per_source),
                (("pair", account, source), self.policy.free_per_pair)]
        if source not in self._trusted.get(account, ()):
            keys.append((("account", account), self.policy.free_per_account))
        return keys

    def _recent(self, key: tuple, now: float) -> deque:
        counter = self._counters.get(key)
        if counter is None:
            return deque()
        while counter.failures and now - counter.failures[0] > self.policy.window:
            counter.failures.popleft()
        if not counter.failures:
            del self._counters[key]
            return deque()
        return counter.failures

    def _delay(self, failures: deque, free: int) -> float:
        over = len(failures) - free
        if over <= 0:
            return 0.0
        return min(self.policy.max_delay, self.policy.base_delay * 2 ** (over - 1))

    def retry_after(self, username: str, source: str) -> float:
        """Seconds until an attempt for ``username`` from ``source`` may be checked (0: now)."""
        with self._lock:
            return self._retry_after(username, source, self.clock())

    def _retry_after(self, username: str, source: str, now: float) -> float:
        wait = 0.0
        for key, free in self._keys(username, source):
            failures = self._recent(key, now)
            if failures:
                wait = max(wait, failures[-1] + self._delay(failures, free) - now)
        return max(0.0, wait)

    def begin(self, username: str, source: str) -> float:
        """The seconds to wait (the attempt is refused, nothing counted), or 0: the attempt may
        check its password now, holds one of the process's check slots until :meth:`end`, and
        counts as a failure until :meth:`succeeded` takes it back. One check at a time per
        source address."""
        with self._lock:
            if self._inflight.get(source, 0) > 0:
                return 1.0
            wait = self._retry_after(username, source, self.clock())
            if wait > 0:
                return wait
            self._inflight[source] = self._inflight.get(source, 0) + 1
        if not self._slots.acquire(timeout=self.policy.slot_wait):
            with self._lock:
                self._release_source(source)
            return 1.0
        with self._lock:
            self._count(username, source, self.clock())
        return 0.0

    def refusal_to_report(self, source: str, every: float = 60.0) -> int:
        """Count a refused attempt from ``source``; returns how many to report now (0: not yet).
        The audit log gets one entry per address and minute under a flood, not one per attempt
        (a flood must not fill the log either)."""
        now = self.clock()
        with self._lock:
            last, pending = self._refusals.get(source, (float("-inf"), 0))
            pending += 1
            if now - last >= every:
                if len(self._refusals) >= self.policy.max_keys:
                    self._refusals.clear()
                self._refusals[source] = (now, 0)
                return pending
            self._refusals[source] = (last, pending)
            return 0

    def end(self, source: str) -> None:
        """The password check admitted by :meth:`begin` is over."""
        self._slots.release()
        with self._lock:
            self._release_source(source)

    def _release_source(self, source: str) -> None:
        n = self._inflight.get(source, 0) - 1
        if n > 0:
            self._inflight[source] = n
        else:
            self._inflight.pop(source, None)

    def failed(self, username: str, source: str) -> None:
        with self._lock:
            self._count(username, source, self.clock())

    def _count(self, username: str, source: str, now: float) -> None:
        if len(self._counters) >= self.policy.max_keys:
            self._forget_oldest()
        for key, _free in self._keys(username, source):
            self._recent(key, now)
            self._counters.setdefault(key, _Counter()).failures.append(now)

    def succeeded(self, username: str, source: str, *, counted: bool = True) -> None:
        """A sign-in succeeded: take back the failure :meth:`begin` counted (``counted``),
        clear the account+address counter and trust the address for the account."""
        account = self._account(username)
        with self._lock:
            if counted:
                for key, _free in self._keys(username, source):
                    counter = self._counters.get(key)
                    if counter is not None and counter.failures:
                        counter.failures.pop()
            self._counters.pop(("pair", account, source), None)
            trusted = self._trusted.setdefault(account, set())
            if len(trusted) < 100:
                trusted.add(source)

    def _forget_oldest(self) -> None:
        oldest = sorted(self._counters.items(), key=lambda kv: kv[1].failures[-1] if kv[1].failures else 0.0)
        for key, _ in oldest[: max(1, len(oldest) // 10)]:
            del self._counters[key]
