"""``synthgen worker``: the process that runs fits and evaluations.

On start it requeues the jobs of dead workers (their budget is already spent and is not charged
again; failed after ``jobs.MAX_ATTEMPTS``) and removes files a crash left unreferenced; then it
polls the jobs table, and every ``alert_interval`` seconds evaluates the alert rules
(``app.core.alerts``).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from datetime import timedelta

from app.core import jobs
from app.core.alerts import AlertMonitor
from app.core.config import Settings

log = logging.getLogger(__name__)


def run_worker(settings: Settings, *, once: bool = False, poll_interval: float = 1.0,
               pipeline: jobs.Pipeline | None = None, max_jobs: int | None = None,
               stop: threading.Event | None = None, platform=None, alert_interval: float = 60.0) -> int:
    """Run jobs until ``stop`` is set (or, with ``once``, until the queue is empty).
    Returns the number of jobs run."""
    from app.core.services import Platform

    own = platform is None
    platform = platform or Platform.open(settings)
    stop = stop or threading.Event()
    done = 0
    try:
        jobs.recover_stale(platform)
        platform.sweep_orphans(min_age=timedelta(hours=1))
        last_recovery = time.monotonic()
        monitor, last_alerts = AlertMonitor(platform), float("-inf")
        while not stop.is_set():
            if time.monotonic() - last_alerts >= alert_interval:
                last_alerts = time.monotonic()
                try:
                    monitor.check()
                except Exception:  # noqa: BLE001 - monitoring must never stop the fits
                    log.exception("alert rules could not be evaluated")
                try:  # publication windows set by the datasets' labels
                    platform.expire_publications()
                except Exception:  # noqa: BLE001 - nor must the expiry sweep
                    log.exception("expired publications could not be revoked")
            state = jobs.run_one(platform, pipeline)
            if state is not None:
                done += 1
                if max_jobs is not None and done >= max_jobs:
                    break
                continue
            if once:
                break
            if time.monotonic() - last_recovery > settings.job_stale_after.total_seconds():
                jobs.recover_stale(platform)
                last_recovery = time.monotonic()
            stop.wait(poll_interval)
    finally:
        if own:
            platform.close()
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="synthgen worker", description="Run queued fits and evaluations.")
    parser.add_argument("--once", action="store_true", help="run the queued jobs, then exit")
    parser.add_argument("--poll-interval", type=float, default=1.0, help="seconds between polls (default 1)")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    stop = threading.Event()

    def _stop(signum, frame):  # finish the current job, then exit
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    n = run_worker(settings, once=args.once, poll_interval=args.poll_interval, stop=stop)
    print(f"synthgen worker: {n} job(s) run", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
