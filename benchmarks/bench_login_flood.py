"""Login flood (issue #14): does a flood of bad sign-ins stall everyone else?

One installation (SQLite, real Argon2 parameters), its API in a subprocess. While ``--threads``
threads send bad sign-ins for ``--seconds``, a client calls an audited endpoint (the release
manifest: one audit entry per call) in a loop and we report its latency (median, p95, max),
against the same loop without a flood. Two floods:

* ``api``: HTTP Basic sign-ins with wrong passwords against ``POST /api/v1/tokens`` from one
  address (what one attacker can do): the per-address throttle answers 429 before hashing;
* ``distributed``: bad passwords for random user names, each from its own address, straight into
  ``Platform.login`` (what a botnet would do; no throttle trips): every attempt costs an Argon2
  verification, outside any database lock.

    PYTHONPATH=$PWD python benchmarks/bench_login_flood.py
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "app_api"))


def latencies(url: str, token: str, release_id: int, seconds: float) -> list[float]:
    out = []
    deadline = time.monotonic() + seconds
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        while time.monotonic() < deadline:
            t0 = time.perf_counter()
            r = client.get(f"{url}/api/v1/releases/{release_id}/manifest")
            out.append(time.perf_counter() - t0)
            assert r.status_code == 200, r.text
            time.sleep(0.02)
    return out


def summary(name: str, xs: list[float], attempts: int | None = None, seconds: float | None = None) -> str:
    xs = sorted(xs)
    p95 = xs[min(len(xs) - 1, int(0.95 * len(xs)))]
    rate = f"; {attempts / seconds:.0f} sign-in attempts/s" if attempts is not None else ""
    return (f"{name:12s} audited call: n={len(xs)} median {statistics.median(xs) * 1000:.0f} ms, "
            f"p95 {p95 * 1000:.0f} ms, max {xs[-1] * 1000:.0f} ms{rate}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=15)
    args = ap.parse_args()
    os.environ.pop("SYNTHGEN_FAST_HASH", None)  # real Argon2 cost

    from api_helpers import LiveServer, create_token, make_env, open_platform, populate

    tmp = Path(tempfile.mkdtemp(prefix="synthgen-flood-"))
    env = {k: v for k, v in make_env(tmp).items() if k != "SYNTHGEN_FAST_HASH"}
    world = populate(env)
    token = create_token(env, "ml")
    server = LiveServer(env, tmp / "server.log")
    lines = []
    try:
        lines.append(summary("no flood", latencies(server.url, token, world.approved, args.seconds)))

        stop = threading.Event()
        counts = [0] * args.threads

        def api_flood(i: int) -> None:
            with httpx.Client(timeout=60) as client:
                while not stop.is_set():
                    client.post(f"{server.url}/api/v1/tokens", auth=(f"user{secrets.randbelow(50)}", "wrong"))
                    counts[i] += 1

        platform = open_platform(env)

        def distributed_flood(i: int) -> None:
            while not stop.is_set():
                source = f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{secrets.randbelow(256)}"
                try:
                    platform.login(f"bot{secrets.token_hex(4)}", "wrong", source=source)
                except Exception:  # noqa: BLE001 - every attempt fails; that is the point
                    pass
                counts[i] += 1

        for name, flood in (("api", api_flood), ("distributed", distributed_flood)):
            stop.clear()
            counts[:] = [0] * args.threads
            threads = [threading.Thread(target=flood, args=(i,), daemon=True) for i in range(args.threads)]
            for t in threads:
                t.start()
            time.sleep(1)
            started, before = time.monotonic(), sum(counts)
            xs = latencies(server.url, token, world.approved, args.seconds)
            attempts, elapsed = sum(counts) - before, time.monotonic() - started
            stop.set()
            for t in threads:
                t.join(timeout=60)
            lines.append(summary(f"{name} flood", xs, attempts, elapsed))
        platform.close()
    finally:
        server.stop()
    print(f"{args.threads} flooding threads, {args.seconds:g} s per phase, SQLite, real Argon2 parameters")
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
