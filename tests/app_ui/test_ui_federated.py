"""A federated fit on the dashboard: its dataset and release show each site's part, and the
privacy officer approves it on its accounting, with a written reason."""

from __future__ import annotations

import pytest

from tests.app_ui.ui_helpers import open_page, texts
from tests.federated_model import SITES, model_bytes

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:streamlit")


@pytest.fixture(scope="module")
def fed_model() -> bytes:
    return model_bytes(epsilon=1.0, colluding=1)


def _site_table(at) -> str:
    return "\n".join(t.value.reset_index().to_string() for t in at.table if t.value.index.name == "Site")


def test_dataset_page_shows_federated_across_sites_with_each_sites_part(platform, team, fed_model):
    rel = platform.register_federated(team.owner, "union.zip", fed_model, name="union", classification="internal")
    at = open_page(platform, "owner", "datasets")
    shown = texts(at)
    assert "Federated across 3 sites" in shown and "federated (3 sites)" in shown
    table = _site_table(at)
    assert all(site in table for site in SITES) and "ε charged" in table
    assert rel.federation["guarantee"] in shown
    # nothing to refit, redraft or re-budget: there is no table on the platform
    assert not any(n.key == f"budget_total_{rel.dataset_id}" for n in at.number_input)
    assert not any(b.key == f"draft_btn_{rel.dataset_id}" for b in at.button)


def test_officer_reviews_a_federated_release_and_approves_with_reason(platform, team, fed_model):
    rel = platform.register_federated(team.owner, "union.zip", fed_model, name="union", classification="internal")
    at = open_page(platform, "officer", "review")
    shown = texts(at)
    assert "Federated across 3 sites" in shown and "not measured" in shown and "it is a federated fit" in shown
    assert all(site in _site_table(at) for site in SITES)
    assert not at.error
    approve = at.button(key=f"approve_{rel.id}")
    assert approve.disabled  # needs the override tick and a reason
    at.text_area(key=f"reason_{rel.id}").input("accounting checked against the three sites' audit logs")
    at.checkbox(key=f"override_{rel.id}").check().run()
    at.button(key=f"approve_{rel.id}").click().run()
    assert not at.exception
    assert platform.get_release(team.officer, rel.id).state == "approved"
    at = open_page(platform, "owner", "releases")
    assert "Federated across 3 sites" in texts(at) and all(site in _site_table(at) for site in SITES)


def test_the_owner_is_offered_the_register_form(platform, team):
    at = open_page(platform, "owner", "datasets")
    assert "Register a federated fit" in "\n".join(e.label for e in at.expander)
