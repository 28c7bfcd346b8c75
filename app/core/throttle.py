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

The counters live in the database (:class:`DatabaseCounters`, tables ``login_failures`` and
``login_trusted``): the API, the dashboard and every process of a multi-process deployment share
them, so alternating between entry points does not multiply the guessing rate. Failure times are
Unix time (shared between processes). Per process stay what guards that process's own CPU: the
number of checks running at once and the one-check-at-a-time rule per address, and the
rate-limited reporting of refusals. Admission is a read then an insert: two processes can both
admit an attempt in the same few milliseconds (at most one extra check per process), which the
per-process lock rules out within a process. :class:`MemoryCounters` keeps the same counters in
one process (tools and tests).
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from dataclasses import dataclass
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


MAX_TRUSTED_PER_ACCOUNT = 100


class MemoryCounters:
    """Failure times per key and trusted addresses per account, in this process only."""

    def __init__(self, max_keys: int = ThrottlePolicy.max_keys):
        self.max_keys = max_keys
        self._counters: dict[str, deque] = {}
        self._trusted: dict[str, set[str]] = {}

    def failures(self, keys: list[str], since: float) -> dict[str, list[float]]:
        out = {}
        for key in keys:
            times = self._counters.get(key)
            if times is None:
                continue
            while times and times[0] <= since:
                times.popleft()
            if times:
                out[key] = list(times)
            else:
                del self._counters[key]
        return out

    def add(self, keys: list[str], now: float, since: float) -> None:
        if len(self._counters) >= self.max_keys:
            oldest = sorted(self._counters.items(), key=lambda kv: kv[1][-1] if kv[1] else 0.0)
            for key, _ in oldest[: max(1, len(oldest) // 10)]:
                del self._counters[key]
        for key in keys:
            self._counters.setdefault(key, deque()).append(now)

    def take_back(self, keys: list[str]) -> None:
        for key in keys:
            times = self._counters.get(key)
            if times:
                times.pop()

    def clear(self, key: str) -> None:
        self._counters.pop(key, None)

    def is_trusted(self, account: str, source: str) -> bool:
        return source in self._trusted.get(account, ())

    def lookup(self, account: str, source: str, keys: list[str], since: float) -> tuple[bool, dict[str, list[float]]]:
        return self.is_trusted(account, source), self.failures(keys, since)

    def trust(self, account: str, source: str) -> None:
        trusted = self._trusted.setdefault(account, set())
        if len(trusted) < MAX_TRUSTED_PER_ACCOUNT:
            trusted.add(source)


class DatabaseCounters:
    """The same counters in the platform database (SQLite or PostgreSQL), shared by every
    process that opens it. Each call is one short transaction (never around a password check).
    Rows older than the window are deleted at most every ``prune_every`` seconds per process;
    their number is bounded by the admitted attempts (each costs a password check, and refused
    attempts write nothing)."""

    def __init__(self, engine, prune_every: float = 60.0):
        self.engine = engine
        self.prune_every = prune_every
        self._last_prune = float("-inf")

    def lookup(self, account: str, source: str, keys: list[str], since: float) -> tuple[bool, dict[str, list[float]]]:
        """Whether ``source`` is trusted for ``account``, and the recent failures of ``keys``."""
        from sqlalchemy import select

        from app.core.store import LoginFailure, LoginTrusted

        out: dict[str, list[float]] = {}
        with self.engine.begin() as conn:
            trusted = conn.execute(select(LoginTrusted.account).where(LoginTrusted.account == account,
                                                                      LoginTrusted.source == source)).first()
            rows = conn.execute(select(LoginFailure.key, LoginFailure.at)
                                .where(LoginFailure.key.in_(keys), LoginFailure.at > since)
                                .order_by(LoginFailure.at, LoginFailure.id))
            for key, at in rows:
                out.setdefault(key, []).append(at)
        return trusted is not None, out

    def add(self, keys: list[str], now: float, since: float) -> None:
        from sqlalchemy import delete, insert

        from app.core.store import LoginFailure

        with self.engine.begin() as conn:
            if now - self._last_prune >= self.prune_every:
                conn.execute(delete(LoginFailure).where(LoginFailure.at <= since))
                self._last_prune = now
            conn.execute(insert(LoginFailure), [{"key": key, "at": now} for key in keys])

    def take_back(self, keys: list[str]) -> None:
        from sqlalchemy import delete, func, select

        from app.core.store import LoginFailure

        with self.engine.begin() as conn:
            for key in keys:
                newest = conn.execute(select(func.max(LoginFailure.id)).where(LoginFailure.key == key)).scalar()
                if newest is not None:
                    conn.execute(delete(LoginFailure).where(LoginFailure.id == newest))

    def clear(self, key: str) -> None:
        from sqlalchemy import delete

        from app.core.store import LoginFailure

        with self.engine.begin() as conn:
            conn.execute(delete(LoginFailure).where(LoginFailure.key == key))

    def is_trusted(self, account: str, source: str) -> bool:
        from sqlalchemy import select

        from app.core.store import LoginTrusted

        with self.engine.begin() as conn:
            return conn.execute(select(LoginTrusted.account).where(LoginTrusted.account == account,
                                                                   LoginTrusted.source == source)).first() is not None

    def trust(self, account: str, source: str) -> None:
        from sqlalchemy import func, insert, select
        from sqlalchemy.exc import IntegrityError

        from app.core.store import LoginTrusted

        try:
            with self.engine.begin() as conn:
                exists = conn.execute(select(LoginTrusted.account).where(LoginTrusted.account == account,
                                                                         LoginTrusted.source == source)).first()
                count = conn.execute(select(func.count()).select_from(LoginTrusted)
                                     .where(LoginTrusted.account == account)).scalar_one()
                if exists is None and count < MAX_TRUSTED_PER_ACCOUNT:
                    conn.execute(insert(LoginTrusted).values(account=account, source=source))
        except IntegrityError:  # another process trusted the same address at the same moment
            pass


class LoginThrottle:
    def __init__(self, policy: ThrottlePolicy = ThrottlePolicy(), clock: Callable[[], float] = time.time,
                 counters: "MemoryCounters | DatabaseCounters | None" = None):
        self.policy, self.clock = policy, clock
        self.counters = counters if counters is not None else MemoryCounters(policy.max_keys)
        self._lock = threading.Lock()
        self._inflight: dict[str, int] = {}  # source -> checks running
        self._refusals: dict[str, tuple[float, int]] = {}  # source -> (last reported, refused since)
        self._slots = threading.BoundedSemaphore(policy.max_concurrent_checks)

    @staticmethod
    def _account(username: str) -> str:
        return str(username).strip().lower()[:64]

    def _all_keys(self, username: str, source: str) -> tuple[str, str, list[tuple[str, int]]]:
        account, source = self._account(username), str(source)[:128]
        return account, source, [(f"source|{source}", self.policy.free_per_source),
                                 (f"pair|{account}|{source}"[:200], self.policy.free_per_pair),
                                 (f"account|{account}", self.policy.free_per_account)]

    def _keys(self, username: str, source: str) -> list[tuple[str, int]]:
        account, source, keys = self._all_keys(username, source)
        return keys if not self.counters.is_trusted(account, source) else keys[:2]

    def _delay(self, failures: list[float], free: int) -> float:
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
        account, source, keys = self._all_keys(username, source)
        # one read (one short transaction) for a refused attempt: the counters and the trust
        trusted, recent = self.counters.lookup(account, source, [k for k, _ in keys], now - self.policy.window)
        for key, free in keys[:2] if trusted else keys:
            failures = recent.get(key)
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
        self.counters.add([k for k, _ in self._keys(username, source)], now, now - self.policy.window)

    def succeeded(self, username: str, source: str, *, counted: bool = True) -> None:
        """A sign-in succeeded: take back the failure :meth:`begin` counted (``counted``),
        clear the account+address counter and trust the address for the account."""
        account = self._account(username)
        with self._lock:
            keys = self._keys(username, source)
            if counted:
                self.counters.take_back([k for k, _ in keys])
            self.counters.clear(keys[1][0])  # the account+address counter
            self.counters.trust(account, str(source)[:128])
