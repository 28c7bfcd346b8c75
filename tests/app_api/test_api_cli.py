"""The CLI against a live server started by the test: token create → releases list → download
→ checksum verified; a tampered download fails loudly; exit codes; local administration."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pandas as pd
import polars as pl
import pytest

from api_helpers import PASSWORD, PY, REPO

pytestmark = pytest.mark.slow


def synthgen(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("SYNTHGEN_")}
    full.update(env)
    full["PYTHONWARNINGS"] = "ignore"
    return subprocess.run([PY, "-m", "app.cli", *args], env=full, cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


def test_cli_round_trip_list_download_verify(server, world, tmp_path):
    env = {**world.env, "SYNTHGEN_URL": server.url, "SYNTHGEN_PASSWORD": PASSWORD}
    created = synthgen("token", "create", "--username", "ml", "--ttl-days", "1", env=env)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("sgt_") and "shown only once" in created.stderr
    env = {**world.env, "SYNTHGEN_URL": server.url, "SYNTHGEN_TOKEN": token}

    listed = synthgen("releases", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    releases = json.loads(listed.stdout)
    ids = {r["id"] for r in releases}
    assert world.approved in ids and world.unapproved not in ids and world.revoked not in ids
    table = synthgen("releases", "list", "--dataset", "titanic", env=env)
    assert table.returncode == 0 and "approved" in table.stdout and "other" not in table.stdout
    assert "CLASS" in table.stdout and " public " in table.stdout  # the dataset's classification

    out = tmp_path / "out"
    for fmt in ("parquet", "csv"):
        done = synthgen("releases", "download", str(world.approved), "--format", fmt, "-o", str(out), env=env)
        assert done.returncode == 0, done.stderr
        path = Path(done.stdout.strip())
        assert path == out / f"release-{world.approved}-synthetic.{fmt}" and path.exists()
        manifest = json.loads((out / f"release-{world.approved}-manifest.json").read_text())
        assert hashlib.sha256(path.read_bytes()).hexdigest() == manifest["files"][f"synthetic.{fmt}"]["sha256"]
        assert "verified SHA-256" in done.stderr
    frame = pd.read_parquet(out / f"release-{world.approved}-synthetic.parquet")
    assert len(frame) == len(pl.read_parquet(out / f"release-{world.approved}-synthetic.parquet")) > 0
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"release-{world.approved}-synthetic.parquet", f"release-{world.approved}-synthetic.csv",
         f"release-{world.approved}-manifest.json"])  # no temp files left

    # flags win over the environment
    flags = synthgen("releases", "list", "--url", server.url, "--token", token,
                     env={**world.env, "SYNTHGEN_TOKEN": "sgt_wrong", "SYNTHGEN_URL": "http://127.0.0.1:1"})
    assert flags.returncode == 0, flags.stderr

    # revoke the token by id (password), then it no longer works: exit 3
    token_id = json.loads(httpx.get(f"{server.url}/api/v1/tokens", auth=("ml", PASSWORD)).text)["tokens"][-1]["id"]
    revoked = synthgen("token", "revoke", str(token_id), "--username", "ml",
                       env={**env, "SYNTHGEN_PASSWORD": PASSWORD})
    assert revoked.returncode == 0, revoked.stderr
    refused = synthgen("releases", "list", env=env)
    assert refused.returncode == 3 and "HTTP 401" in one_line_error(refused)


def test_cli_exit_codes(server, world, ml_token, tmp_path):
    env = {**world.env, "SYNTHGEN_URL": server.url, "SYNTHGEN_TOKEN": ml_token}
    hidden = synthgen("releases", "download", str(world.unapproved), "-o", str(tmp_path), env=env)
    assert hidden.returncode == 2 and "HTTP 404" in one_line_error(hidden)
    assert not list(tmp_path.iterdir())
    no_token = synthgen("releases", "list", env={**world.env, "SYNTHGEN_URL": server.url})
    assert no_token.returncode == 2 and "SYNTHGEN_TOKEN" in one_line_error(no_token)
    bad_arg = synthgen("releases", "download", "abc", env=env)
    assert bad_arg.returncode == 2 and one_line_error(bad_arg)
    bad_format = synthgen("releases", "download", "1", "--format", "xlsx", env=env)
    assert bad_format.returncode == 2
    unreachable = synthgen("releases", "list", "--url", "http://127.0.0.1:1", env=env)
    assert unreachable.returncode == 2 and "cannot reach" in one_line_error(unreachable)
    wrong_password = synthgen("token", "create", "--username", "ml",
                              env={**env, "SYNTHGEN_PASSWORD": "not the password at all"})
    assert wrong_password.returncode == 3 and "HTTP 401" in one_line_error(wrong_password)
    no_password = synthgen("token", "create", "--username", "ml", env=env)
    assert no_password.returncode == 2 and "SYNTHGEN_PASSWORD" in one_line_error(no_password)


class _TamperingProxy(BaseHTTPRequestHandler):
    """Forwards GETs to the real server; flips one byte of every download body."""

    upstream = ""

    def do_GET(self):  # noqa: N802 - http.server API
        r = httpx.get(self.upstream + self.path, headers={"Authorization": self.headers.get("Authorization", "")})
        body = r.content
        if "/download" in self.path and r.status_code == 200:
            body = bytes([body[0] ^ 0x20]) + body[1:]
        self.send_response(r.status_code)
        for name in ("content-type", "x-checksum-sha256", "etag"):
            if name in r.headers:
                self.send_header(name, r.headers[name])
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_cli_tampered_download_fails_loudly(server, world, ml_token, tmp_path):
    handler = type("Proxy", (_TamperingProxy,), {"upstream": server.url})
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        env = {**world.env, "SYNTHGEN_URL": f"http://127.0.0.1:{proxy.server_address[1]}", "SYNTHGEN_TOKEN": ml_token}
        out = tmp_path / "out"
        proc = synthgen("releases", "download", str(world.approved), "--format", "csv", "-o", str(out), env=env)
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert proc.returncode == 2, proc.stderr
    line = one_line_error(proc)
    manifest = httpx.get(f"{server.url}/api/v1/releases/{world.approved}/manifest",
                         headers={"Authorization": f"Bearer {ml_token}"}).json()
    expected = manifest["files"]["synthetic.csv"]["sha256"]
    assert "checksum mismatch" in line and f"expected SHA-256 {expected}" in line
    actual = line.split(" got ")[1].split(";")[0]
    assert len(actual) == 64 and actual != expected
    assert not any(out.iterdir()), list(out.iterdir())  # nothing written, not even a temp file


def test_cli_local_administration(server, world, ml_token, tmp_path):
    env = {**world.env, "SYNTHGEN_USERNAME": "admin", "SYNTHGEN_PASSWORD": PASSWORD}
    added = synthgen("user", "add", "newbie", "--role", "data_owner", env=env)
    assert added.returncode == 0, added.stderr
    assert "generated password (shown once): " in added.stdout
    role = synthgen("user", "role", "newbie", "ml_engineer", env=env)
    assert role.returncode == 0 and "ml_engineer" in role.stderr
    disabled = synthgen("user", "disable", "newbie", env=env)
    assert disabled.returncode == 0, disabled.stderr
    missing = synthgen("user", "disable", "nobody", env=env)
    assert missing.returncode == 2 and "does not exist" in one_line_error(missing)
    # a non-admin is refused with exit 3 (and the service audits the denial)
    as_ml = synthgen("user", "add", "x1", "--role", "ml_engineer",
                     env={**env, "SYNTHGEN_USERNAME": "ml"})
    assert as_ml.returncode == 3, as_ml.stderr
    one_line_error(as_ml)

    rotated = synthgen("keys", "rotate", env=env)
    assert rotated.returncode == 0, rotated.stderr
    assert "rewrapped" in rotated.stdout
    # the running server picks up the rotated master key: downloads still verify
    r = httpx.get(f"{server.url}/api/v1/releases/{world.approved}/download",
                  headers={"Authorization": f"Bearer {ml_token}"})
    assert r.status_code == 200 and hashlib.sha256(r.content).hexdigest() == r.headers["x-checksum-sha256"]

    verified = synthgen("audit", "verify", env=env)
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.startswith("audit log ok")


def test_cli_audit_verify_detects_tampering(tmp_path):
    from sqlalchemy import text

    from api_helpers import make_env, open_platform

    env = make_env(tmp_path)
    p = open_platform(env)
    try:
        p.create_first_admin("admin", PASSWORD)
        p.login("admin", PASSWORD)
        with p.engine.begin() as conn:
            conn.execute(text("UPDATE audit_entries SET actor = 'mallory' WHERE seq = 1"))
    finally:
        p.close()
    proc = synthgen("audit", "verify", env=env)  # no user name, no password: verifying needs neither
    assert proc.returncode == 1, proc.stderr
    assert "verification FAILED" in proc.stderr.strip().splitlines()[-1]
