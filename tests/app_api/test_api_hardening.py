"""HTTP hardening: response headers, cross-site refusal, and TLS for the API and the dashboard
(tested on loopback with a locally generated certificate authority)."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from api_helpers import PASSWORD, REPO, free_port
from tls_helpers import make_local_ca


def test_download_is_not_cached_and_carries_security_headers(server, world, ml_token):
    r = httpx.get(f"{server.url}/api/v1/releases/{world.approved}/download", params={"format": "csv"},
                  headers={"Authorization": f"Bearer {ml_token}"})
    assert r.status_code == 200
    assert r.headers["cache-control"] == "private, no-store"
    assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert "server" not in r.headers
    health = httpx.get(f"{server.url}/health")
    assert "server" not in health.headers and health.headers["cache-control"] == "no-store"
    assert "strict-transport-security" not in health.headers  # plain HTTP on loopback: no HSTS


@pytest.mark.parametrize("headers", [{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
                                     {"Origin": "https://evil.example"},
                                     {"Origin": "null"}])
def test_cross_site_token_creation_is_refused(server, platform, headers):
    admin = platform.login("admin", PASSWORD).actor
    before = len(platform.audit_log(admin, action="create_api_token", limit=10_000))
    r = httpx.post(f"{server.url}/api/v1/tokens", auth=("ml", PASSWORD), json={"ttl_days": 1}, headers=headers)
    assert r.status_code == 403 and r.json()["error"]["code"] == "cross_site_refused"
    assert len(platform.audit_log(admin, action="create_api_token", limit=10_000)) == before


def test_same_origin_token_creation_still_works(server):
    host = server.url.split("//", 1)[1]
    r = httpx.post(f"{server.url}/api/v1/tokens", auth=("ml", PASSWORD), json={"ttl_days": 1},
                   headers={"Origin": server.url, "Host": host, "Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 201, r.text


# --------------------------------------------------------------------------------------------
# TLS
# --------------------------------------------------------------------------------------------


def _start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(cmd, cwd=REPO, env={**os.environ, **env, "PYTHONWARNINGS": "ignore"},
                                stdout=out, stderr=subprocess.STDOUT)


def _wait_https(proc: subprocess.Popen, url: str, ctx: ssl.SSLContext, log: Path, timeout: float = 90) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {log.read_text()[-2000:]}")
        try:
            return httpx.get(url, verify=ctx, timeout=2)
        except httpx.TransportError:
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.2)


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _plain_http_refused(port: int) -> None:
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/", timeout=5)


@pytest.fixture(scope="module")
def local_ca(tmp_path_factory):
    return make_local_ca(tmp_path_factory.mktemp("ca"))


def test_api_serves_https_only_from_the_configured_certificate(world, local_ca, tmp_path):
    port = free_port()
    env = {**world.env, "SYNTHGEN_API_HOST": "127.0.0.1", "SYNTHGEN_API_PORT": str(port),
           "SYNTHGEN_TLS_CERT_FILE": str(local_ca.cert_file), "SYNTHGEN_TLS_KEY_FILE": str(local_ca.key_file)}
    log = tmp_path / "api.log"
    proc = _start([sys.executable, "-m", "app.api"], env, log)
    try:
        ctx = ssl.create_default_context(cafile=str(local_ca.ca_file))
        r = _wait_https(proc, f"https://127.0.0.1:{port}/health", ctx, log)
        assert r.status_code == 200 and r.headers["strict-transport-security"].startswith("max-age=")
        assert "server" not in r.headers
        with pytest.raises(httpx.ConnectError):  # the system trust store does not know our CA
            httpx.get(f"https://127.0.0.1:{port}/health", timeout=5)
        _plain_http_refused(port)
        tokens = httpx.post(f"https://127.0.0.1:{port}/api/v1/tokens", auth=("ml", PASSWORD), verify=ctx,
                            json={"ttl_days": 1})
        assert tokens.status_code == 201
    finally:
        _stop(proc)


def test_dashboard_is_hardened_and_serves_https_only(world, local_ca, tmp_path):
    port = free_port()
    env = {**world.env, "SYNTHGEN_TLS_CERT_FILE": str(local_ca.cert_file),
           "SYNTHGEN_TLS_KEY_FILE": str(local_ca.key_file)}
    log = tmp_path / "dashboard.log"
    proc = _start([sys.executable, "-m", "app.ui.serve", "run", str(REPO / "app" / "ui" / "streamlit_app.py"),
                   "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
                   "--browser.gatherUsageStats", "false", "--server.sslCertFile", str(local_ca.cert_file),
                   "--server.sslKeyFile", str(local_ca.key_file)], env, log)
    try:
        ctx = ssl.create_default_context(cafile=str(local_ca.ca_file))
        page = _wait_https(proc, f"https://127.0.0.1:{port}/", ctx, log)
        assert page.status_code == 200
        health = httpx.get(f"https://127.0.0.1:{port}/_stcore/health", verify=ctx)
        for r in (page, health):
            assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
            assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
            assert "server" not in r.headers and "strict-transport-security" in r.headers
        cookies = health.headers.get_list("set-cookie")
        assert cookies, "Streamlit sets its XSRF cookie with the health check"
        assert all("secure" in [a.strip().lower() for a in c.split(";")[1:]] for c in cookies)
        _plain_http_refused(port)
    finally:
        _stop(proc)


def test_a_repeated_format_parameter_is_refused(server, world, ml_token):
    r = httpx.get(f"{server.url}/api/v1/releases/{world.approved}/download?format=csv&format=parquet",
                  headers={"Authorization": f"Bearer {ml_token}"})
    assert r.status_code == 422 and "format" in r.json()["error"]["message"]
    listed = httpx.get(f"{server.url}/api/v1/releases?state=approved&state=published",
                       headers={"Authorization": f"Bearer {ml_token}"})
    assert listed.status_code == 200 and listed.json()["releases"]  # list-valued parameters still repeat
