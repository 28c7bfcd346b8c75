"""The job queue: fits and evaluations run in ``synthgen worker``, never in a web request.

Jobs are rows (``jobs``) with a state (queued → running → succeeded | failed), progress, a
heartbeat and the worker's pid/host. Claiming a job is one transaction that takes the row lock
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), moves the release
draft → running and marks its budget reservation **spent**: from then on the budget is gone,
whatever happens (failure, SIGKILL, rejection).

A job's output is written as encrypted artifacts (temp file → fsync → rename) *before* the
final transaction records their SHA-256 and moves the release to ``evaluated``; a worker killed
in between leaves complete but unreferenced files (removed by ``Platform.sweep_orphans``) and a
running job whose worker is dead, which :func:`recover_stale` puts back in the queue (at most
:data:`MAX_ATTEMPTS` attempts in all, then the release goes to ``failed``; ``Platform.retry_release``
requeues it with a new reservation).

The queue works on the public :class:`~app.core.services.runtime.Runtime`: its transactions
(:meth:`Runtime.transaction`), its audit trail (:meth:`Runtime.append_audit`, one entry per
transaction, actor ``worker``) and its vault (encrypted tables and artifacts).

The computation itself is a *pipeline* callable ``(JobInput) -> JobOutput``; the default one
fits the synthesizer, samples and evaluates. Tests inject tiny deterministic pipelines.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Callable

import pandas as pd
from sqlalchemy import select, update

from app.core import bundle, crypto, ledger
from app.core.classification import describe as describe_label
from app.core import releases as rel_sm
from app.core.services.platform import Platform
from app.core.services.runtime import WORKER_ACTOR, Runtime
from app.core.store import Dataset, Job, Release, lock_for_update
from synthgen.budget import PrivacyBudget
from synthgen.errors import InvalidInputError, SynthgenError
from synthgen.io import table_to_bytes

logger = logging.getLogger(__name__)

JOB_KIND = "fit_evaluate"
#: Attempts a job gets when its worker dies under it (SIGKILL, OOM, host restart) before it is
#: marked failed: a job that kills its worker every time must not loop forever.
MAX_ATTEMPTS = 3
HOST = socket.gethostname()[:255]


@dataclass
class JobInput:
    release_id: int
    dataset_id: int
    synthesizer: str
    config: dict[str, Any]
    dp: bool
    budget: PrivacyBudget | None
    delta: float | None
    rows: int | None
    target: str | None
    policy: dict[str, Any]
    schema_json: str
    train: pd.DataFrame = field(repr=False)
    control: pd.DataFrame = field(repr=False)
    progress: Callable[[float, str], None] = field(repr=False, default=lambda f, m: None)
    n_attacks: int | None = None  # anonymeter attacks per risk metric (None: evaluation's default)
    classification: str = "restricted"  # the dataset's label (public), shown on the card


@dataclass
class JobOutput:
    synthetic: pd.DataFrame = field(repr=False)
    verdict: str  # pass | fail | inconclusive
    report: dict[str, Any] = field(repr=False)  # full report: real-side statistics (stored encrypted)
    card_full_html: str = field(repr=False)
    card_ml_html: str = field(repr=False)
    model_info: dict[str, Any] = field(default_factory=dict)  # public facts: config, budget, versions


Pipeline = Callable[[JobInput], JobOutput]


def runtime_of(platform: Platform | Runtime) -> Runtime:
    """The runtime of a :class:`~app.core.services.Platform` (or the runtime itself)."""
    return platform.runtime if isinstance(platform, Platform) else platform


# --------------------------------------------------------------------------------------------
# Synthesizer configuration (checked at request time by synthgen.synthesizers.registry)
# --------------------------------------------------------------------------------------------

def _build_config(name: str, options: dict[str, Any]):
    from synthgen.synthesizers import config_from_dict

    return config_from_dict({**options, "synthesizer": name})


# --------------------------------------------------------------------------------------------
# Default pipeline: fit → sample → evaluate → cards
# --------------------------------------------------------------------------------------------


def with_data_owner_facts(report, facts: dict[str, int]):
    """The full report with what the person-level bound set aside, for the data owner and the
    privacy officers reviewing the dataset: they read the full report and card; ML teams get
    the ML view, which carries neither notes nor sampling facts. Exact counts of the private
    table, so never in the model info, the manifest or the ML-team card."""
    import dataclasses

    if not facts:
        return report
    note = (f"person-level bound: {facts['rows_set_aside_by_person_bound']} training rows set aside "
            f"({facts['rows_over_person_limit']} beyond the rows allowed per person, "
            f"{facts['rows_without_person_id']} without a person id); data owner and reviewing officers only")
    return dataclasses.replace(report, notes=(*report.notes, note),
                               sampling={**report.sampling, "person_bound": dict(facts)})


def default_pipeline(inp: JobInput) -> JobOutput:
    import numpy as np

    import evaluation
    from evaluation.policy import Policy
    from synthgen.schema import Schema
    from synthgen.synthesizers import fit

    schema = Schema.from_json(inp.schema_json)
    config = _build_config(inp.synthesizer, inp.config)
    rng = np.random.default_rng()  # fresh OS entropy: DP noise must not be reproducible

    def sub(lo: float, hi: float):
        return lambda f, m="": inp.progress(lo + (hi - lo) * float(f), str(m))

    model = fit(inp.train, schema, config, inp.budget, progress=sub(0.0, 0.6))
    inp.progress(0.6, "sampling")
    synthetic = model.sample(inp.rows, rng=rng)
    inp.progress(0.7, "evaluating")
    policy = Policy.from_dict(inp.policy["evaluation"], source="release policy")
    privacy = model.privacy_summary(inp.delta) if inp.dp else None
    extra = {"n_attacks": inp.n_attacks} if inp.n_attacks else {}
    report = evaluation.evaluate(inp.train, synthetic, inp.control, schema, policy=policy, rng=rng,
                                 target=inp.target, privacy=privacy, progress=sub(0.7, 0.95), **extra)
    report = with_data_owner_facts(report, model.data_owner_facts)
    logger.info("release %s: evaluation timings %s", inp.release_id, report.timings)  # the log, never an artefact
    from evaluation.card import render_card

    facts = {"classification": describe_label(inp.classification)}
    if getattr(config, "target", None):  # a public column name: both audiences may read how AIM was fitted
        facts["AIM weighted towards"] = config.target
    return JobOutput(
        synthetic=synthetic,
        verdict=report.overall_verdict,
        # no timings in the stored report: durations grow with the private table's size
        report=report.to_dict(include_timings=False),
        card_full_html=render_card(report, "full", facts=facts),
        card_ml_html=render_card(report, "ml", facts=facts),
        model_info=dict(model.info),
    )


# --------------------------------------------------------------------------------------------
# Queue operations
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    job_id: int
    release_id: int
    attempt: int


def claim_next(platform: Platform | Runtime) -> Claimed | None:
    """Take the oldest queued job; start its release and spend its budget, in one transaction."""
    rt = runtime_of(platform)
    with rt.transaction() as s:
        q = select(Job).where(Job.state == "queued").order_by(Job.id).limit(1)
        if s.get_bind().dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True)
        job = s.execute(q).scalar_one_or_none()
        if job is None:
            return None
        now = rt.now()
        job.attempts += 1
        job.worker_pid = os.getpid()
        job.worker_host = HOST
        job.heartbeat_at = now
        job.started_at = now
        rel = s.execute(lock_for_update(select(Release).where(Release.id == job.release_id), s)).scalar_one()
        if rel.state != "draft":
            job.state = "failed"
            job.error = f"release was {rel.state!r} when the job started"
            job.finished_at = now
            return None
        job.state = "running"
        job.progress = 0.0
        job.message = "starting"
        rel_sm.start(s, rel)
        spent = ledger.mark_release_spent(s, rel.id)
        rt.append_audit(s, actor=WORKER_ACTOR, action="fit", outcome="ok", target=f"release:{rel.id}",
                               details={"release_id": rel.id, "dataset_id": rel.dataset_id, "job_id": job.id,
                                        "attempt": job.attempts, "synthesizer": rel.synthesizer,
                                        "rho_spent": sum(e.rho for e in spent)})
        return Claimed(job.id, rel.id, job.attempts)


class _Heartbeat(threading.Thread):
    def __init__(self, rt: Runtime, job_id: int, interval: float):
        super().__init__(daemon=True, name=f"heartbeat-{job_id}")
        self.rt, self.job_id, self.interval = rt, job_id, interval
        self.stop_event = threading.Event()
        self.progress: tuple[float, str] | None = None
        self.lock = threading.Lock()

    def set_progress(self, fraction: float, message: str) -> None:
        with self.lock:
            self.progress = (max(0.0, min(1.0, float(fraction))), str(message)[:200])

    def beat(self) -> None:
        with self.lock:
            progress, self.progress = self.progress, None
        values: dict[str, Any] = {"heartbeat_at": self.rt.now()}
        if progress is not None:
            values.update(progress=progress[0], message=progress[1])
        with self.rt.transaction() as s:
            s.execute(update(Job).where(Job.id == self.job_id, Job.state == "running").values(**values))

    def run(self) -> None:
        while not self.stop_event.wait(self.interval):
            try:
                self.beat()
            except Exception:  # noqa: BLE001 - a missed heartbeat is recovered by the next one
                pass


def _fail(rt: Runtime, claimed: Claimed, error: str, outcome_details: dict[str, Any]) -> None:
    with rt.transaction() as s:
        job = s.get(Job, claimed.job_id)
        rel = s.get(Release, claimed.release_id)
        if job.state == "running":
            job.state = "failed"
            job.error = error
            job.finished_at = rt.now()
        if rel.state in ("draft", "running"):
            rel_sm.fail(s, rel, error)
        rt.append_audit(s, actor=WORKER_ACTOR, action="fit", outcome="failed", target=f"release:{rel.id}",
                               details={"release_id": rel.id, "dataset_id": rel.dataset_id, "job_id": job.id,
                                        **outcome_details})


def run_claimed(platform: Platform | Runtime, claimed: Claimed, pipeline: Pipeline | None = None) -> str:
    """Run a claimed job to the end; returns the job's final state."""
    rt = runtime_of(platform)
    pipeline = pipeline or default_pipeline
    hb = _Heartbeat(rt, claimed.job_id, rt.settings.heartbeat_interval)
    hb.start()
    try:
        with rt.transaction() as s:
            rel = s.get(Release, claimed.release_id)
            ds = s.get(Dataset, rel.dataset_id)
            if ds.deleted_at is not None:
                raise SynthgenError("the dataset was deleted")
            train, control = rt.vault.load_tables(ds)
            inp = JobInput(
                release_id=rel.id, dataset_id=ds.id, synthesizer=rel.synthesizer,
                config=json.loads(rel.config_json), dp=rel.dp,
                budget=PrivacyBudget(rel.rho) if rel.dp else None, delta=rel.delta, rows=rel.rows,
                target=rel.target, policy=json.loads(rel.policy_json), schema_json=rel.schema_json,
                train=train, control=control, progress=hb.set_progress,
                n_attacks=rt.settings.eval_n_attacks, classification=ds.classification)
            data_key = rt.vault.data_key(ds)
            ds_id = ds.id
        out = pipeline(inp)
        del inp, train, control
        if out.verdict not in ("pass", "fail", "inconclusive"):
            raise SynthgenError(f"pipeline verdict ({str(out.verdict)[:20]!r}) must be pass, fail or inconclusive")
        hb.set_progress(0.95, "writing artifacts")
        files = {
            bundle.SYNTH_CSV: table_to_bytes(out.synthetic, "csv"),
            bundle.SYNTH_PARQUET: table_to_bytes(out.synthetic, "parquet"),
            bundle.CARD_ML: out.card_ml_html.encode("utf-8"),
            bundle.CARD_FULL: out.card_full_html.encode("utf-8"),
        }
        attempt_dir = f"releases/{claimed.release_id}/{claimed.attempt}-{secrets.token_hex(4)}"
        artifacts: dict[str, dict[str, Any]] = {}
        with rt.transaction() as s:
            ds = s.get(Dataset, ds_id)
            for name, data in files.items():
                purpose = f"artifact.{claimed.release_id}.{name}"
                path = f"{attempt_dir}/{name}.enc"
                cipher_sha = rt.vault.write_encrypted(ds, path, purpose, data, data_key=data_key)
                artifacts[name] = {"path": path, "purpose": purpose, "sha256": crypto_sha256(data),
                                   "cipher_sha256": cipher_sha, "size": len(data),
                                   "public": name in bundle.PUBLIC_FILES}
        report_enc = crypto.encrypt(data_key, json.dumps(out.report, sort_keys=True, default=str).encode("utf-8"),
                                    str(ds_id), f"report.{claimed.release_id}")
        with rt.transaction() as s:
            job = s.execute(lock_for_update(select(Job).where(Job.id == claimed.job_id), s)).scalar_one()
            rel = s.execute(lock_for_update(select(Release).where(Release.id == claimed.release_id), s)).scalar_one()
            if job.state != "running" or rel.state != "running":
                raise SynthgenError(f"job was marked {job.state!r} while it ran")
            rel_sm.finish(s, rel, verdict=out.verdict, report_enc=report_enc,
                          model_info_json=json.dumps(out.model_info, sort_keys=True, default=str),
                          artifacts_json=json.dumps(artifacts, sort_keys=True))
            job.state = "succeeded"
            job.progress = 1.0
            job.message = "done"
            job.finished_at = rt.now()
            job.heartbeat_at = rt.now()
            rt.append_audit(s, actor=WORKER_ACTOR, action="evaluate", outcome="ok", target=f"release:{rel.id}",
                                   details={"release_id": rel.id, "dataset_id": rel.dataset_id, "job_id": job.id,
                                            "verdict": out.verdict,
                                            "files": {n: a["sha256"] for n, a in artifacts.items() if a["public"]}})
        return "succeeded"
    except Exception as exc:  # noqa: BLE001 - recorded; messages may quote data, so only the type is kept
        error = type(exc).__name__
        if isinstance(exc, SynthgenError) and not isinstance(exc, InvalidInputError):
            error = f"{error}: {str(exc)[:200]}"
        _fail(rt, claimed, error, {"error": type(exc).__name__})
        return "failed"
    finally:
        hb.stop_event.set()
        hb.join(timeout=5)


def crypto_sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover_stale(platform: Platform | Runtime, *, stale_after: timedelta | None = None) -> list[int]:
    """Put running jobs whose worker is gone back in the queue (failed after :data:`MAX_ATTEMPTS`).

    A worker is gone when its heartbeat is older than ``stale_after`` or, on this host, its
    process no longer exists. A requeued job keeps its reservation, which is already *spent*:
    ``claim_next`` only marks ``reserved`` entries spent, so the retry charges nothing more.
    Privacy: the interrupted attempt released nothing (its artifacts were never recorded and are
    swept as orphans), so this reservation still pays for exactly one mechanism output that can
    ever leave the platform. Returns the ids of the jobs recovered (requeued or failed)."""
    rt = runtime_of(platform)
    stale_after = stale_after or rt.settings.job_stale_after
    now = rt.now()
    recovered: list[int] = []
    with rt.transaction() as s:
        candidates = s.execute(select(Job).where(Job.state == "running")).scalars().all()
        dead = []
        for job in candidates:
            stale = job.heartbeat_at is None or now - job.heartbeat_at > stale_after
            gone = job.worker_host == HOST and job.worker_pid is not None and job.worker_pid != os.getpid() \
                and not _pid_alive(job.worker_pid)
            if stale or gone:
                dead.append(job.id)
    for job_id in dead:
        with rt.transaction() as s:
            job = s.execute(lock_for_update(select(Job).where(Job.id == job_id), s)).scalar_one()
            if job.state != "running":
                continue
            rel = s.execute(lock_for_update(select(Release).where(Release.id == job.release_id), s)).scalar_one()
            details = {"release_id": rel.id, "dataset_id": rel.dataset_id, "job_id": job.id,
                       "attempt": job.attempts, "error": "WorkerLost"}
            if job.attempts < MAX_ATTEMPTS and rel.state == "running":
                job.state = "queued"
                job.progress = 0.0
                job.message = f"requeued: worker lost during attempt {job.attempts}"
                job.worker_pid = None
                job.heartbeat_at = None
                rel_sm.requeue(s, rel)
                rt.append_audit(s, actor=WORKER_ACTOR, action="requeue", outcome="ok",
                               target=f"release:{rel.id}", details=details)
            else:
                job.state = "failed"
                job.error = (f"worker lost (killed or stopped heartbeating) in {job.attempts} attempt(s); "
                             "retry the release")
                job.finished_at = now
                if rel.state in ("draft", "running"):
                    rel_sm.fail(s, rel, job.error)
                rt.append_audit(s, actor=WORKER_ACTOR, action="fit", outcome="failed",
                               target=f"release:{rel.id}", details=details)
            recovered.append(job_id)
    return recovered


def run_one(platform: Platform | Runtime, pipeline: Pipeline | None = None) -> str | None:
    """Claim and run one job; None when the queue is empty."""
    claimed = claim_next(platform)
    if claimed is None:
        return None
    return run_claimed(platform, claimed, pipeline)
