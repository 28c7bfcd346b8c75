"""A ~100 MB synthetic table downloads through the API with bounded server memory: the server
streams it (decrypting as it goes) instead of holding it; the checksum verifies."""

from __future__ import annotations

import hashlib
import threading
import time

import httpx
import psutil
import pytest

from api_helpers import LiveServer, big_table, create_token, make_env, populate

pytestmark = pytest.mark.slow

MB = 1024 * 1024
MAX_GROWTH = 50 * MB


class PeakRss:
    """Samples a process's RSS every few milliseconds in a thread; keeps the peak."""

    def __init__(self, pid: int):
        self.proc = psutil.Process(pid)
        self.peak = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.002)

    def __enter__(self) -> "PeakRss":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)


@pytest.fixture(scope="module")
def big_world(tmp_path_factory):
    return populate(make_env(tmp_path_factory.mktemp("api-big")), synthetic=big_table(100 * MB))


@pytest.fixture(scope="module")
def big_server(big_world, tmp_path_factory):
    srv = LiveServer(big_world.env, tmp_path_factory.mktemp("api-big-log") / "server.log")
    try:
        yield srv
    finally:
        srv.stop()


def fetch(url: str, headers: dict[str, str]) -> tuple[str, int, httpx.Headers]:
    digest = hashlib.sha256()
    size = 0
    with httpx.stream("GET", url, headers=headers, timeout=120) as r:
        assert r.status_code == 200, r.read()
        for block in r.iter_bytes(1 << 20):
            digest.update(block)
            size += len(block)
        return digest.hexdigest(), size, r.headers


def test_100mb_download_streams_with_bounded_server_memory(big_world, big_server):
    token = create_token(big_world.env, "ml")
    h = {"Authorization": f"Bearer {token}"}
    base = f"{big_server.url}/api/v1/releases"
    manifest = httpx.get(f"{base}/{big_world.approved}/manifest", headers=h).json()
    expected = manifest["files"]["synthetic.csv"]
    assert expected["size"] >= 95 * MB, expected["size"]
    # warm up the code path (imports, first decryptor) on a small release
    fetch(f"{base}/{big_world.published}/download?format=csv", h)

    baseline = psutil.Process(big_server.proc.pid).memory_info().rss
    started = time.perf_counter()
    with PeakRss(big_server.proc.pid) as rss:
        sha, size, headers = fetch(f"{base}/{big_world.approved}/download?format=csv", h)
    elapsed = time.perf_counter() - started
    growth = rss.peak - baseline
    print(f"\n100 MB download: {size / MB:.1f} MiB in {elapsed:.2f} s ({size / MB / elapsed:.0f} MiB/s); "
          f"server RSS {baseline / MB:.0f} MiB -> peak {rss.peak / MB:.0f} MiB (+{growth / MB:.1f} MiB)")
    assert size == expected["size"]
    assert sha == expected["sha256"] == headers["x-checksum-sha256"]
    assert headers["etag"] == f'"{sha}"'
    assert int(headers["content-length"]) == size
    assert growth < MAX_GROWTH, f"server RSS grew by {growth / MB:.1f} MiB while streaming {size / MB:.0f} MiB"

    # the Parquet of the same table verifies too, and both downloads were audited
    psha, _psize, _ = fetch(f"{base}/{big_world.approved}/download?format=parquet", h)
    assert psha == manifest["files"]["synthetic.parquet"]["sha256"]
    from api_helpers import PASSWORD, open_platform

    p = open_platform(big_world.env)
    try:
        admin = p.login("admin", PASSWORD).actor
        mine = [(e.outcome, e.details.get("format"), e.details.get("sha256")) for e in
                p.audit_log(admin, action="download", target=f"release:{big_world.approved}")]
    finally:
        p.close()
    assert ("ok", "csv", sha) in mine and ("ok", "parquet", psha) in mine


def test_tampered_artifact_is_refused_before_any_byte(big_world, big_server, tmp_path):
    """A stored file that no longer matches its recorded SHA-256: a 500 JSON error, no data."""
    import json

    from api_helpers import open_platform
    from app.core.store import Release, transaction

    p = open_platform(big_world.env)
    try:
        with transaction(p._factory) as s:
            meta = json.loads(s.get(Release, big_world.published).artifacts_json)["synthetic.csv"]
        path = p._path(meta["path"])
    finally:
        p.close()
    original = path.read_bytes()
    try:
        tampered = bytearray(original)
        tampered[len(tampered) // 2] ^= 0x01
        path.write_bytes(bytes(tampered))
        token = create_token(big_world.env, "ml")
        r = httpx.get(f"{big_server.url}/api/v1/releases/{big_world.published}/download?format=csv",
                      headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 500
        assert r.json()["error"]["code"] == "integrity_error"
    finally:
        path.write_bytes(original)
