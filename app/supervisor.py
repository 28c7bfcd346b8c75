"""Keeps the launcher's children (worker, API, dashboard) running.

A child that exits on its own (crash, ``kill -9``, out of memory) is started again after a
back-off (0.5 s, doubling to at most ``max_backoff``; back to 0.5 s once it has stayed up for
``window`` seconds), while the other children keep running: a dead worker must not take the
dashboard down, nor the other way round. A child is never given up on: one that crashes in a
loop (a misconfiguration) is retried every ``max_backoff`` seconds with a line in the log each
time, so it comes back by itself once the cause is fixed. Job state needs nothing from here: the
new worker's start-up recovery requeues the job its predecessor was running
(``jobs.recover_stale``).
"""

from __future__ import annotations

import signal
import subprocess
import time
from dataclasses import dataclass
from typing import Callable


@dataclass
class Child:
    name: str
    cmd: list[str]
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    backoff: float = 0.5
    restart_at: float | None = None
    restarts: int = 0


class Supervisor:
    def __init__(self, *, env: dict[str, str], cwd: str, log: Callable[[str], None] = print,
                 window: float = 60.0, max_backoff: float = 30.0):
        self.env, self.cwd, self.log = env, cwd, log
        self.window, self.max_backoff = window, max_backoff
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
            child.restart_at = now + child.backoff
            self.log(f"{child.name} exited with code {rc}; restarting in {child.backoff:g} s")
            child.backoff = min(self.max_backoff, child.backoff * 2)

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
