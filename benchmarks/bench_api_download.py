"""Benchmark of the HTTP API download (issue #6): throughput and server RSS for a ~100 MB table.

Builds a throw-away installation in a temp directory (SQLite, generated keys), releases a
synthetic table whose CSV is about ``--mb`` MB (a stand-in pipeline, no model is fitted),
starts ``python -m app.api`` on a free port and downloads the CSV and Parquet with httpx while
sampling the server's RSS. For comparison it also measures, in this process, the service
layer's in-memory ``Platform.download`` of the same file.

    .venv/bin/python benchmarks/bench_api_download.py [--mb 100] [--repeat 3]
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


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=float, default=100.0, help="size of the synthetic CSV in MB (default 100)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import httpx
    import psutil

    from api_helpers import PASSWORD, LiveServer, big_table, create_token, make_env, open_platform, populate

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        world = populate(make_env(Path(tmp)), synthetic=big_table(int(args.mb * MB)))
        print(f"setup (release a {args.mb:g} MB table): {time.perf_counter() - t0:.1f} s")
        server = LiveServer(world.env, Path(tmp) / "server.log")
        try:
            token = create_token(world.env, "ml")
            h = {"Authorization": f"Bearer {token}"}
            base = f"{server.url}/api/v1/releases/{world.approved}"
            manifest = httpx.get(f"{base}/manifest", headers=h).json()
            httpx.get(f"{server.url}/api/v1/releases/{world.published}/download?format=csv", headers=h)  # warm up
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
