"""Keeps the launcher's children (worker, API, dashboard) running.

A child that exits on its own (crash, ``kill -9``, out of memory) is started again after a short
back-off (0.5 s, doubling to at most 10 s; reset once it has stayed up for a minute), while the
other children keep running: a dead worker must not take the dashboard down, nor the other way
round. A child that dies ``max_restarts`` times within ``window`` seconds is given up on (it is
probably misconfigured) and the others go on. Job state needs nothing from here: the new worker's
start-up recovery requeues the job its predecessor was running (``jobs.recover_stale``).
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable


@dataclass
class Child:
    name: str
    cmd: list[str]
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    deaths: deque = field(default_factory=deque)  # monotonic times of recent unexpected exits
    backoff: float = 0.5
    restart_at: float | None = None
    given_up: bool = False
    restarts: int = 0


class Supervisor:
    def __init__(self, *, env: dict[str, str], cwd: str, log: Callable[[str], None] = print,
                 max_restarts: int = 5, window: float = 60.0, max_backoff: float = 10.0):
        self.env, self.cwd, self.log = env, cwd, log
        self.max_restarts, self.window, self.max_backoff = max_restarts, window, max_backoff
        self.children: list[Child] = []

    def add(self, name: str, cmd: list[str]) -> Child:
        child = Child(name, cmd)
        self.children.append(child)
        self._spawn(child)
        return child

    def _spawn(self, child: Child) -> None:
        child.proc = subprocess.Popen(child.cmd, cwd=self.cwd, env=self.env, start_new_session=True)
        child.started_at = time.monotonic()
        child.restart_at = None

    def poll(self) -> None:
        """One supervision step: notice exits, restart children whose back-off has passed."""
        now = time.monotonic()
        for child in self.children:
            if child.given_up:
                continue
            if child.restart_at is not None:
                if now >= child.restart_at:
                    child.restarts += 1
                    self.log(f"restarting {child.name} (restart {child.restarts})")
                    self._spawn(child)
                continue
            rc = child.proc.poll()
            if rc is None:
                if now - child.started_at > self.window:
                    child.backoff = 0.5  # stayed up: the next crash restarts quickly again
                continue
            child.deaths.append(now)
            while child.deaths and now - child.deaths[0] > self.window:
                child.deaths.popleft()
            if len(child.deaths) > self.max_restarts:
                child.given_up = True
                self.log(f"{child.name} exited with code {rc} {len(child.deaths)} times within "
                         f"{self.window:g} s; not restarting it (see its log above)")
                continue
            child.restart_at = now + child.backoff
            self.log(f"{child.name} exited with code {rc}; restarting in {child.backoff:g} s")
            child.backoff = min(self.max_backoff, child.backoff * 2)

    @property
    def all_given_up(self) -> bool:
        return bool(self.children) and all(c.given_up for c in self.children)

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM every child (the worker finishes its current step), SIGKILL after ``timeout``."""
        for child in self.children:
            if child.proc is not None and child.proc.poll() is None:
                child.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in self.children:
            if child.proc is None:
                continue
            try:
                child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.proc.kill()
                child.proc.wait()
