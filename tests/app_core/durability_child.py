"""Fork server of the durability test.

Imports everything once, prints READY, then for each ``fork`` line on stdin forks a child that
runs upload → reserve → fit → artifacts → release forever (until the test SIGKILLs it) and
prints the child's pid; ``reap <pid>`` waits for it. Forking after the imports keeps each of
the many kills cheap while every child opens its own engine and connections.
"""

from __future__ import annotations

import itertools
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import synthgen.synthesizers  # noqa: E402,F401 - import before READY so kills land on real work
from app.core import jobs  # noqa: E402
from app.core.config import Settings  # noqa: E402
from app.core.services import Platform  # noqa: E402
from core_helpers import PASSWORD, small_titanic, tiny_pipeline  # noqa: E402


def team(p: Platform):
    if not p.has_users():
        try:
            p.create_first_admin("admin", PASSWORD)
        except Exception:  # noqa: BLE001 - killed half-way last time: the row exists or not
            pass
    admin = p.login("admin", PASSWORD).actor
    names = {u.username: u for u in p.list_users(admin)}
    for name, role in [("owner", "data_owner"), ("officer", "privacy_officer")]:
        if name not in names:
            p.create_user(admin, name, PASSWORD, role)
    return admin, p.login("owner", PASSWORD).actor, p.login("officer", PASSWORD).actor


def work(p: Platform, admin, owner, officer) -> None:
    p.engine.dispose(close=False)  # after fork: never reuse the parent's connections
    data, schema = small_titanic()
    pipeline = tiny_pipeline()
    for round_number in itertools.count():
        # dataset names are unique on the platform: one per child and round
        ds = p.upload_dataset(owner, "t.csv", data, name=f"t-{os.getpid()}-{round_number}", classification="public", budget_epsilon=2.0,
                              delta=1e-6, schema_json=schema)
        p.add_member(admin, ds.id, officer.user_id)
        for _ in range(2):
            rel = p.request_release(owner, ds.id, synthesizer="mst", epsilon=0.5)
            jobs.run_one(p, pipeline)
            rel = p.get_release(owner, rel.id)
            if rel.state == "evaluated":
                p.approve(officer, rel.id, "ok")
                p.publish(officer, rel.id)
                p.download(officer if False else owner, rel.id, "bundle")


def main() -> None:
    import evaluation.policy  # noqa: F401 - warm every import the loop needs
    import synthgen.draft  # noqa: F401

    from evaluation.policy import default_policy
    from synthgen.budget import PrivacyBudget

    small_titanic()
    default_policy()
    for eps in (2.0, 0.5):  # OpenDP conversion: imported and cached before forking
        PrivacyBudget.from_epsilon(eps, 1e-6).describe(1e-6)
    p = Platform.open(Settings.from_env())
    actors = team(p)
    p.engine.dispose()  # no connection is shared with the forked children
    print("READY", flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if cmd == ["fork"]:
            pid = os.fork()
            if pid == 0:
                code = 0
                try:
                    work(p, *actors)
                except BaseException as exc:  # noqa: BLE001
                    print(f"child error {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
                    code = 1
                os._exit(code)
            print(pid, flush=True)
        elif len(cmd) == 2 and cmd[0] == "reap":
            _, status = os.waitpid(int(cmd[1]), 0)
            print(status, flush=True)


if __name__ == "__main__":
    main()
