"""Concurrent release requests on PostgreSQL (issue #14): deadlocks reaching users, overspend.

``--rounds`` rounds of ``--threads`` threads that request a release of the same dataset at the
same instant (a barrier), on a fresh schema of the PostgreSQL at ``SYNTHGEN_TEST_POSTGRES_URL``.
Half the rounds have budget for every request, half only for some. Prints the outcomes: every
request must end "ok" or "over budget", and the ledger must never exceed the budget.

    PYTHONPATH=$PWD python benchmarks/bench_pg_race.py
"""

from __future__ import annotations

import argparse
import collections
import os
import secrets
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
PASSWORD = "correct horse battery staple 42"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--threads", type=int, default=20)
    args = ap.parse_args()
    os.environ.setdefault("SYNTHGEN_FAST_HASH", "1")
    from sqlalchemy import create_engine

    from app.core.config import Settings
    from app.core.services import Platform
    from synthgen.errors import BudgetExceededError

    url = os.environ.get("SYNTHGEN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    schema = f"bench_{secrets.token_hex(6)}"
    admin_engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    tmp = Path(tempfile.mkdtemp(prefix="synthgen-pgrace-"))
    settings = Settings(data_dir=tmp / "data", key_dir=tmp / "keys", create_keys=True,
                        database_url=f"{url}?options={quote(f'-csearch_path={schema}')}")
    outcomes: collections.Counter = collections.Counter()
    overspent = 0
    started = time.monotonic()
    try:
        with Platform.open(settings) as p:
            p.create_first_admin("admin", PASSWORD)
            admin = p.login("admin", PASSWORD).actor
            p.create_user(admin, "owner", PASSWORD, "data_owner")
            owner = p.login("owner", PASSWORD).actor
            data = (REPO / "datasets" / "titanic.csv").read_bytes()
            schema_json = (REPO / "datasets" / "titanic.schema.json").read_text()
            for r in range(args.rounds):
                budget = 50.0 if r % 2 == 0 else 2.0  # every request fits / only a few fit
                ds = p.upload_dataset(owner, "titanic.csv", data, name=f"t{r}", classification="public", budget_epsilon=budget, delta=1e-6,
                                      schema_json=schema_json)
                barrier = threading.Barrier(args.threads)
                lock = threading.Lock()

                def request():
                    barrier.wait()
                    try:
                        p.request_release(owner, ds.id, synthesizer="mst", epsilon=0.5)
                        result = "ok"
                    except BudgetExceededError:
                        result = "over budget"
                    except Exception as exc:  # noqa: BLE001 - what reached the user
                        result = f"{type(exc).__name__}: {str(exc)[:80]}"
                    with lock:
                        outcomes[result] += 1

                threads = [threading.Thread(target=request) for _ in range(args.threads)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                s = p.budget_summary(owner, ds.id)
                if s.spent.rho + s.reserved.rho > s.total.rho * (1 + 1e-12):
                    overspent += 1
    finally:
        with admin_engine.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin_engine.dispose()
    total = sum(outcomes.values())
    print(f"PostgreSQL: {args.rounds} rounds x {args.threads} concurrent release requests = {total} requests "
          f"in {time.monotonic() - started:.0f} s")
    for result, n in outcomes.most_common():
        print(f"  {n:4d}  {result}")
    errors = total - outcomes["ok"] - outcomes["over budget"]
    print(f"errors reaching users (deadlocks included): {errors}; rounds with the budget overspent: {overspent}")
    return 0 if errors == 0 and overspent == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
