"""kill -9 of the launcher's children at random moments while real fits run (issue #14).

Starts ``python -m app.launcher --no-demo`` on a throw-away installation (SQLite, or PostgreSQL
with ``--database-url``), keeps real MST fits of the Titanic table queued, and ``--runs`` times
SIGKILLs one child (worker, API or dashboard, chosen at random) after a random delay. After each
kill it waits until the supervisor has the child back (API and dashboard health answer, a worker
process exists) and checks that nothing committed was lost: the audit log only grew, every
release that had reached ``evaluated`` still has it. At the end, every release is evaluated, each
was charged exactly once in the ledger (one ``spent`` entry of its ρ), the audit chain verifies
and the database integrity check is clean.

    PYTHONPATH=$PWD python benchmarks/bench_kill9.py --runs 30
    PYTHONPATH=$PWD python benchmarks/bench_kill9.py --runs 20 --postgres   # a fresh schema in db ``test``

``--postgres`` creates a schema of its own in ``SYNTHGEN_TEST_POSTGRES_URL`` (default
postgresql+psycopg://postgres@127.0.0.1:5432/test, as the tests), points every child at it through
the connection's ``search_path`` and drops it at the end.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
PASSWORD = "correct horse battery staple 42"
CHILD_MARKERS = {"worker": "app.core.worker", "api": "uvicorn", "dashboard": "app.ui.serve"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PG_URL = os.environ.get("SYNTHGEN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _fresh_pg_schema() -> tuple[str, str]:
    import secrets
    from urllib.parse import quote

    from sqlalchemy import create_engine

    schema = f"kill9_{secrets.token_hex(4)}"
    eng = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with eng.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    eng.dispose()
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options={quote(f'-csearch_path={schema}')}", schema


def _drop_pg_schema(schema: str) -> None:
    from sqlalchemy import create_engine

    eng = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with eng.connect() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    eng.dispose()


def children(launcher: psutil.Process) -> dict[str, int]:
    found = {}
    for proc in launcher.children(recursive=False):
        try:
            cmd = " ".join(proc.cmdline())
        except psutil.Error:
            continue
        for name, marker in CHILD_MARKERS.items():
            if marker in cmd and proc.status() != psutil.STATUS_ZOMBIE:
                found[name] = proc.pid
    return found


def healthy(api_port: int, dash_port: int, launcher: psutil.Process) -> bool:
    try:
        if httpx.get(f"http://127.0.0.1:{api_port}/health", timeout=1).status_code != 200:
            return False
        if httpx.get(f"http://127.0.0.1:{dash_port}/_stcore/health", timeout=1).status_code != 200:
            return False
    except httpx.TransportError:
        return False
    return "worker" in children(launcher)


def snapshot(platform):
    from sqlalchemy import func, select

    from app.core.store import AuditRow, Release, session_factory

    with session_factory(platform.engine)() as s:
        audit_len = s.execute(select(func.count()).select_from(AuditRow)).scalar_one()
        evaluated = set(s.execute(select(Release.id).where(Release.state == "evaluated")).scalars())
    return audit_len, evaluated


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--postgres", action="store_true",
                    help="run on a fresh schema of SYNTHGEN_TEST_POSTGRES_URL (dropped at the end)")
    ap.add_argument("--seed", type=int, default=None, help="seed of the kill schedule only (not of any noise)")
    args = ap.parse_args()
    rng = random.Random(args.seed)

    from app.core.config import Settings
    from app.core.services import Platform

    pg_schema = None
    if args.postgres:
        args.database_url, pg_schema = _fresh_pg_schema()
    tmp = Path(tempfile.mkdtemp(prefix="synthgen-kill9-"))
    env = {"SYNTHGEN_DATA_DIR": str(tmp / "data"), "SYNTHGEN_KEY_DIR": str(tmp / "keys"), "SYNTHGEN_CREATE_KEYS": "1",
           "SYNTHGEN_FAST_HASH": "1", "SYNTHGEN_EVAL_N_ATTACKS": "50", "SYNTHGEN_DEMO": "0"}
    if args.database_url:
        env["SYNTHGEN_DATABASE_URL"] = args.database_url
    os.environ.update(env)
    settings = Settings.from_env()
    platform = Platform.open(settings)
    platform.create_first_admin("admin", PASSWORD)
    admin = platform.login("admin", PASSWORD).actor
    platform.create_user(admin, "owner", PASSWORD, "data_owner")
    platform.create_user(admin, "officer", PASSWORD, "privacy_officer")  # a release needs a possible reviewer
    owner = platform.login("owner", PASSWORD).actor
    ds = platform.upload_dataset(owner, "titanic.csv", (REPO / "datasets" / "titanic.csv").read_bytes(),
                                 name="titanic", classification="public", budget_epsilon=100.0, delta=1e-6,
                                 schema_json=(REPO / "datasets" / "titanic.schema.json").read_text())

    api_port, dash_port = free_port(), free_port()
    log = open(tmp / "launcher.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "app.launcher", "--no-demo", "--port", str(dash_port),
                             "--api-port", str(api_port), "--address", "127.0.0.1"], cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=log, stderr=subprocess.STDOUT)
    launcher = psutil.Process(proc.pid)
    kills = {"worker": 0, "api": 0, "dashboard": 0}
    recoveries: list[float] = []
    lost = 0
    release_ids: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while not healthy(api_port, dash_port, launcher):
            assert time.monotonic() < deadline, "launcher did not come up"
            time.sleep(0.5)
        for run in range(args.runs):
            release_ids.append(platform.request_release(owner, ds.id, synthesizer="mst", epsilon=0.3).id)
            time.sleep(rng.uniform(0.2, 6.0))
            before_audit, before_evaluated = snapshot(platform)
            name = rng.choice(sorted(kills))
            pid = children(launcher).get(name)
            if pid is None:
                continue
            os.kill(pid, signal.SIGKILL)
            kills[name] += 1
            t0 = time.monotonic()
            while True:
                now = children(launcher)
                if now.get(name) not in (None, pid) and healthy(api_port, dash_port, launcher):
                    break
                assert time.monotonic() - t0 < 120, f"{name} did not come back"
                time.sleep(0.1)
            recoveries.append(time.monotonic() - t0)
            after_audit, after_evaluated = snapshot(platform)
            if after_audit < before_audit or not before_evaluated <= after_evaluated:
                lost += 1
            print(f"run {run + 1:2d}: killed {name:9s} back in {recoveries[-1]:5.1f} s", flush=True)
        deadline = time.monotonic() + 900
        while True:
            states = [platform.get_release(owner, rid).state for rid in release_ids]
            if all(s in ("evaluated", "failed") for s in states):
                break
            assert time.monotonic() < deadline, f"jobs did not finish: {states}"
            time.sleep(1)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()

    from sqlalchemy import select

    from app.core.store import LedgerEntry, Release, session_factory

    charged_wrong = 0
    with session_factory(platform.engine)() as s:
        for rid in release_ids:
            rel = s.get(Release, rid)
            entries = s.execute(select(LedgerEntry).where(LedgerEntry.release_id == rid)).scalars().all()
            if len(entries) != 1 or entries[0].state != "spent" or abs(entries[0].rho - rel.rho) > 1e-15:
                charged_wrong += 1
    states = [platform.get_release(owner, rid).state for rid in release_ids]
    requeued = len(platform.audit_log(admin, action="requeue", limit=10_000))
    verify = platform.verify_audit_chain()
    integrity = platform.check_integrity()
    platform.close()
    if pg_schema is not None:
        _drop_pg_schema(pg_schema)
    print(f"backend: {'PostgreSQL' if args.database_url else 'SQLite'}; runs {args.runs}; kills {kills}")
    print(f"recovery (child back, API+dashboard healthy): median {statistics.median(recoveries):.1f} s, "
          f"max {max(recoveries):.1f} s")
    print(f"releases {len(release_ids)}: evaluated {states.count('evaluated')}, failed {states.count('failed')}; "
          f"jobs requeued after a worker kill {requeued}")
    print(f"charged other than exactly once: {charged_wrong}; runs that lost committed data: {lost}; "
          f"audit chain ok: {verify.ok}; integrity problems: {len(integrity)}")
    return 0 if (charged_wrong == 0 and lost == 0 and verify.ok and not integrity) else 1


if __name__ == "__main__":
    raise SystemExit(main())
