"""Two sessions never see each other's datasets; every page renders in under 2 s with 20
datasets and 200 releases in the database."""

from __future__ import annotations

import time

import pytest

from app.ui.app_pages import ROLE_PAGES
from tests.app_ui.ui_helpers import PAGE_FILES, TITANIC_CSV, TITANIC_SCHEMA, app_test, texts, tiny_pipeline

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:streamlit")


def test_two_sessions_never_see_each_others_datasets(platform, team):
    a = platform.upload_dataset(team.owner, "titanic.csv", TITANIC_CSV.read_bytes(), name="alpha-secret-name",
                                classification="public", budget_epsilon=5.0, delta=1e-6, schema_json=TITANIC_SCHEMA.read_text())
    b = platform.upload_dataset(team.outsider, "titanic.csv", TITANIC_CSV.read_bytes(), name="bravo-secret-name",
                                classification="public", budget_epsilon=5.0, delta=1e-6, schema_json=TITANIC_SCHEMA.read_text())
    s1 = app_test(platform, "owner")
    s2 = app_test(platform, "outsider")
    # interleave the two sessions, on every page they have
    for _ in range(2):
        for page in ROLE_PAGES["data_owner"]:
            for at, mine, theirs in ((s1, "alpha", "bravo"), (s2, "bravo", "alpha")):
                at.run() if page == "datasets" and not at.session_state else None
                at.switch_page(PAGE_FILES[page]).run()
                assert not at.exception
                shown = texts(at) + "\n".join(str(o) for sb in at.selectbox for o in sb.options)
                assert f"{theirs}-secret-name" not in shown, (page, mine)
                if page in ("datasets", "new_release"):
                    assert f"{mine}-secret-name" in shown, (page, mine)
    # the service refuses the other's dataset even when asked directly
    from app.core.authz import PermissionDeniedError

    with pytest.raises(PermissionDeniedError):
        platform.get_dataset(team.outsider, a.id)
    with pytest.raises(PermissionDeniedError):
        platform.get_dataset(team.owner, b.id)
    # session tokens are per session: the two AppTests hold different tokens and actors
    from app.ui.state import TOKEN_KEY

    assert s1.session_state[TOKEN_KEY] != s2.session_state[TOKEN_KEY]
    assert platform.actor_for_session(s1.session_state[TOKEN_KEY]).username == "owner"
    assert platform.actor_for_session(s2.session_state[TOKEN_KEY]).username == "outsider"


def seed_many(platform, team, n_datasets: int = 20, n_releases: int = 200) -> None:
    from app.core import jobs

    data, schema = TITANIC_CSV.read_bytes(), TITANIC_SCHEMA.read_text()
    ids = []
    for i in range(n_datasets):
        ds = platform.upload_dataset(team.owner, "titanic.csv", data, name=f"dataset {i:02d}", classification="public", budget_epsilon=50.0,
                                     delta=1e-6, schema_json=schema)
        for a in (team.officer, team.ml):
            platform.add_member(team.admin, ds.id, a.user_id)
        ids.append(ds.id)
    pipe = tiny_pipeline()
    for k in range(n_releases):
        rel = platform.request_release(team.owner, ids[k % n_datasets], synthesizer="mst", epsilon=0.3, rows=20)
        if k < n_releases // 2:  # half of them evaluated (run now, before later ones queue), a quarter approved
            assert jobs.run_one(platform, pipe) is not None
            if k % 2 == 0:
                platform.approve(team.officer, rel.id, "fine")


@pytest.mark.slow
def test_every_page_renders_under_2s_with_20_datasets_and_200_releases(platform, team):
    seed_many(platform, team)
    assert len(platform.list_datasets(team.owner)) == 20
    timings = {}
    for role, user in (("data_owner", "owner"), ("privacy_officer", "officer"), ("ml_engineer", "ml"),
                       ("admin", "admin")):
        at = app_test(platform, user)
        at.run()
        for page in ROLE_PAGES[role]:
            at.switch_page(PAGE_FILES[page])
            at.run()  # warm (first import of the page's modules)
            started = time.perf_counter()
            at.run()
            timings[(role, page)] = elapsed = time.perf_counter() - started
            assert not at.exception, (role, page)
    slow = {k: round(v, 2) for k, v in timings.items() if v >= 2.0}
    print({f"{r}/{p}": round(v, 3) for (r, p), v in timings.items()})
    assert not slow, slow
