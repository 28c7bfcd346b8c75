"""Benchmark of the HTTP API download (issue #6): throughput and server RSS for a ~100 MB table.

Builds a throw-away installation in a temp directory (SQLite, generated keys), releases a
synthetic table whose CSV is about ``--mb`` MB (a stand-in pipeline, no model is fitted),
starts ``python -m app.api`` on a free port and downloads the CSV and Parquet with httpx while
sampling the server's RSS. For comparison it also measures, in this process, the service
layer's in-memory ``Platform.download`` of the same file.

    .venv/bin/python benchmarks/bench_api_download.py [--mb 100] [--repeat 3]
    .venv/bin/python benchmarks/bench_api_download.py --mb 3.5 --concurrent 200

``--concurrent N`` opens N downloads of the CSV at once (one connection each, asyncio) and reports
the server's peak RSS, the wall time until every response ended, the statuses (200, or 503 with
``Retry-After`` when the server bounds its concurrent downloads) and how many 200 bodies failed
their SHA-256. Refused downloads are retried after their ``Retry-After`` with ``--retry``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "app_api"))
os.environ.setdefault("SYNTHGEN_FAST_HASH", "1")

MB = 1024 * 1024


def _peak_rss(pid: int, stop: threading.Event, out: list[int]) -> None:
    import psutil

    proc = psutil.Process(pid)
    while not stop.is_set():
        out[0] = max(out[0], proc.memory_info().rss)
        time.sleep(0.002)


def _concurrent(server, base: str, headers: dict[str, str], expected: str, n: int, retry: bool) -> None:
    import asyncio
    from collections import Counter

    import httpx
    import psutil

    proc = psutil.Process(server.proc.pid)
    baseline = proc.memory_info().rss
    cpu0 = proc.cpu_times()
    peak, stop = [baseline], threading.Event()
    sampler = threading.Thread(target=_peak_rss, args=(server.proc.pid, stop, peak), daemon=True)
    sampler.start()
    statuses: Counter[str] = Counter()
    bad = [0]
    retries = [0]

    async def one(client: httpx.AsyncClient) -> None:
        while True:
            try:
                async with client.stream("GET", f"{base}/download", params={"format": "csv"}, headers=headers) as r:
                    if r.status_code == 200:
                        digest = hashlib.sha256()
                        async for block in r.aiter_bytes(1 << 16):
                            digest.update(block)
                        statuses["200"] += 1
                        bad[0] += digest.hexdigest() != expected
                        return
                    await r.aread()
                    statuses[f"{r.status_code} (Retry-After {r.headers.get('retry-after')})"] += 1
                    if not retry or r.status_code not in (429, 503):
                        return
                    retries[0] += 1
                    await asyncio.sleep(float(r.headers.get("retry-after", "1")))
            except httpx.HTTPError as exc:
                statuses[type(exc).__name__] += 1
                return

    async def run_all() -> None:
        limits = httpx.Limits(max_connections=n, max_keepalive_connections=0)
        async with httpx.AsyncClient(limits=limits, timeout=600) as client:
            await asyncio.gather(*(one(client) for _ in range(n)))

    t = time.perf_counter()
    asyncio.run(run_all())
    elapsed = time.perf_counter() - t
    stop.set()
    sampler.join()
    cpu1 = proc.cpu_times()
    done = statuses["200"]
    print(f"{n} concurrent CSV downloads: wall {elapsed:.1f} s, server CPU {cpu1.user + cpu1.system - cpu0.user - cpu0.system:.1f} s; "
          f"statuses {dict(statuses)}; retries {retries[0]}; sha256 mismatches {bad[0]}")
    print(f"  server RSS {baseline / MB:.0f} MiB -> peak {peak[0] / MB:.0f} MiB (+{(peak[0] - baseline) / MB:.0f} MiB); "
          f"completed {done} x {args_mb[0]:.1f} MiB = {done * args_mb[0] / elapsed:.0f} MiB/s; load {os.getloadavg()}")


args_mb = [0.0]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=float, default=100.0, help="size of the synthetic CSV in MB (default 100)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--concurrent", type=int, default=0, help="N downloads at once (CSV) instead of one by one")
    parser.add_argument("--retry", action="store_true", help="with --concurrent: retry 429/503 after Retry-After")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for the server (repeatable)")
    args = parser.parse_args()

    import httpx
    import psutil

    from api_helpers import PASSWORD, LiveServer, big_table, create_token, make_env, open_platform, populate

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        world = populate(make_env(Path(tmp)), synthetic=big_table(int(args.mb * MB)))
        print(f"setup (release a {args.mb:g} MB table): {time.perf_counter() - t0:.1f} s")
        server_env = {**world.env, **dict(kv.split("=", 1) for kv in args.env)}
        server = LiveServer(server_env, Path(tmp) / "server.log")
        try:
            token = create_token(world.env, "ml")
            h = {"Authorization": f"Bearer {token}"}
            base = f"{server.url}/api/v1/releases/{world.approved}"
            manifest = httpx.get(f"{base}/manifest", headers=h).json()
            httpx.get(f"{server.url}/api/v1/releases/{world.published}/download?format=csv", headers=h)  # warm up
            if args.concurrent:
                args_mb[0] = manifest["files"]["synthetic.csv"]["size"] / MB
                _concurrent(server, base, h, manifest["files"]["synthetic.csv"]["sha256"], args.concurrent, args.retry)
                return 0
            for fmt in ("csv", "parquet"):
                expected = manifest["files"][f"synthetic.{fmt}"]
                for i in range(args.repeat):
                    baseline = psutil.Process(server.proc.pid).memory_info().rss
                    peak, stop = [baseline], threading.Event()
                    sampler = threading.Thread(target=_peak_rss, args=(server.proc.pid, stop, peak), daemon=True)
                    sampler.start()
                    digest, size, t = hashlib.sha256(), 0, time.perf_counter()
                    with httpx.stream("GET", f"{base}/download", params={"format": fmt}, headers=h, timeout=300) as r:
                        r.raise_for_status()
                        for block in r.iter_bytes(1 << 20):
                            digest.update(block)
                            size += len(block)
                    elapsed = time.perf_counter() - t
                    stop.set()
                    sampler.join()
                    ok = digest.hexdigest() == expected["sha256"]
                    print(f"API {fmt:<7} run {i + 1}: {size / MB:7.1f} MiB in {elapsed:5.2f} s = "
                          f"{size / MB / elapsed:6.0f} MiB/s; server RSS {baseline / MB:.0f} MiB -> peak "
                          f"{peak[0] / MB:.0f} MiB (+{(peak[0] - baseline) / MB:.1f} MiB); sha256 ok={ok}")
        finally:
            server.stop()

        # the service layer's in-memory download, for comparison (this process)
        p = open_platform(world.env)
        try:
            actor = p.login("ml", PASSWORD).actor
            me = psutil.Process()
            baseline = me.memory_info().rss
            peak, stop = [baseline], threading.Event()
            sampler = threading.Thread(target=_peak_rss, args=(os.getpid(), stop, peak), daemon=True)
            sampler.start()
            t = time.perf_counter()
            d = p.download(actor, world.approved, "csv")
            elapsed = time.perf_counter() - t
            stop.set()
            sampler.join()
            print(f"Platform.download csv (in memory): {len(d.data) / MB:.1f} MiB in {elapsed:.2f} s; RSS +"
                  f"{(peak[0] - baseline) / MB:.0f} MiB")
        finally:
            p.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
