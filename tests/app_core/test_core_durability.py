"""SIGKILL at random points during upload → reserve → fit → artifact → release; then recover."""

from __future__ import annotations

import json
import math
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from app.core import crypto, jobs
from app.core.services import Platform
from app.core.store import Dataset, Job, LedgerEntry, Release, transaction
from core_helpers import PASSWORD, tiny_pipeline
from synthgen.errors import BudgetExceededError

CHILD = Path(__file__).with_name("durability_child.py")
KILLS = int(os.environ.get("SYNTHGEN_TEST_KILLS", "30"))


def _kill_loop(env: dict, rng: random.Random, kills: int) -> None:
    server = subprocess.Popen([sys.executable, str(CHILD)], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    try:
        line = server.stdout.readline()
        if line.strip() != b"READY":
            server.kill()
            _, err = server.communicate(timeout=30)
            raise AssertionError(f"fork server did not start: {line!r} {err.decode()[-3000:]}")
        for _ in range(kills):
            server.stdin.write(b"fork\n")
            server.stdin.flush()
            pid = int(server.stdout.readline())
            time.sleep(rng.uniform(0.05, 1.2))
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            server.stdin.write(f"reap {pid}\n".encode())
            server.stdin.flush()
            status = int(server.stdout.readline())
            assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, (
                f"child ended on its own (status {status}); it must run until killed")
    finally:
        server.stdin.close()
        server.wait(timeout=30)
        server.stdout.close()
        server.stderr.close()


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_sigkill_at_random_points_leaves_a_consistent_store(settings):
    env = {**os.environ, **settings.to_env(), "SYNTHGEN_FAST_HASH": "1", "PYTHONPATH": str(CHILD.parent)}
    Platform.open(settings).close()  # keys and schema exist before the first kill
    rng = random.Random(20240611)
    _kill_loop(env, rng, KILLS)

    p = Platform.open(settings)
    try:
        data_dir = settings.data_dir
        # 1. no partial file under a final name: every release artifact decrypts completely
        #    (AES-GCM authenticates the whole file), every dataset file of a committed dataset too
        with transaction(p._factory) as s:
            datasets = {d.id: d for d in s.execute(select(Dataset)).scalars()}
            committed_dirs = {d.storage_dir for d in datasets.values()}
            for path in data_dir.rglob("*.enc"):
                if path.name.startswith("."):
                    continue  # temp file of an interrupted write: never under a final name
                rel_path = path.relative_to(data_dir).as_posix()
                if rel_path.startswith("releases/"):
                    release_id = int(rel_path.split("/")[1])
                    rel = s.get(Release, release_id)
                    assert rel is not None, rel_path
                    name = path.name[: -len(".enc")]
                    crypto.decrypt(p.data_key(datasets[rel.dataset_id]), path.read_bytes(), str(rel.dataset_id),
                                   f"artifact.{release_id}.{name}")
                else:
                    storage = "/".join(rel_path.split("/")[:2])
                    if storage in committed_dirs:
                        ds = next(d for d in datasets.values() if d.storage_dir == storage)
                        purpose = "table.train" if path.name == "train.enc" else "table.control"
                        crypto.decrypt(p.data_key(ds), path.read_bytes(), str(ds.id), purpose)
        # 2. after restart: dead workers' jobs are failed (retryable), their budget stays spent
        jobs.recover_stale(p)
        p.sweep_orphans(min_age=__import__("datetime").timedelta(0))
        with transaction(p._factory) as s:
            assert s.execute(select(Job).where(Job.state == "running")).scalars().all() == []
            releases = s.execute(select(Release)).scalars().all()
            assert releases, "the child never got as far as a release"
            for rel in releases:
                assert rel.state != "running"
                entries = s.execute(select(LedgerEntry).where(LedgerEntry.release_id == rel.id)).scalars().all()
                if rel.state in ("failed", "evaluated", "approved", "published"):
                    assert entries and all(e.state == "spent" for e in entries), rel.id
                if rel.state in ("evaluated", "approved", "published"):
                    assert rel.artifacts_json and json.loads(rel.artifacts_json)
            for ds in datasets.values():
                used = math.fsum(e.rho for e in s.execute(select(LedgerEntry).where(LedgerEntry.dataset_id == ds.id)).scalars())
                assert used <= ds.budget_rho_total
        # 3. database integrity, audit chain, every committed artifact with its SHA-256
        assert p.check_integrity() == []
        assert p.verify_audit_chain().ok
        # a failed release (worker killed mid-job) is retryable; its first attempt stays spent
        with transaction(p._factory) as s:
            failed = s.execute(select(Release).where(Release.state == "failed")).scalars().first()
        if failed is not None:
            owner = p.login("owner", PASSWORD).actor
            before = p.budget_summary(owner, failed.dataset_id)
            try:
                p.retry_release(owner, failed.id)
            except BudgetExceededError:
                pass
            else:
                assert p.budget_summary(owner, failed.dataset_id).reserved.rho == pytest.approx(
                    before.reserved.rho + failed.rho)
                while (state := jobs.run_one(p, tiny_pipeline())) is not None:  # drafts left by kills, then ours
                    assert state == "succeeded"
                assert p.get_release(owner, failed.id).state == "evaluated"
                assert p.check_integrity() == []
    finally:
        p.close()
