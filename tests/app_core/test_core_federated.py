"""A federated fit registered on the platform: a dataset with no table, a release not measured."""

from __future__ import annotations

import io
import json
import zipfile

import pandas as pd
import pytest

from app.core.services import ApprovalRefusedError
from app.core.store import Dataset
from synthgen.errors import ConflictError, InvalidInputError, ModelFileError
from tests.app_core.core_helpers import make_team
from tests.federated_model import SITES, model_bytes, with_info


@pytest.fixture(scope="module")
def fed_model() -> bytes:
    return model_bytes(epsilon=1.0, colluding=1)


def register(platform, team, data, name="union"):
    return platform.register_federated(team.owner, "union.zip", data, name=name, classification="internal")


def test_register_makes_a_federated_dataset_without_table_and_its_budget_spent(platform, fed_model):
    team = make_team(platform)
    rel = register(platform, team, fed_model)
    assert rel.state == "evaluated" and rel.verdict == "inconclusive" and rel.dp
    assert rel.federated and rel.federation["sites"] == sorted(SITES) and rel.federation["colluding"] == 1
    ds = platform.get_dataset(team.owner, rel.dataset_id)
    assert ds.federation is not None and ds.federation["fit_id"] == rel.federation["fit_id"]
    assert ds.schema_reviewed
    # the fit's ρ is recorded as spent, once; nothing is left to spend on the platform
    assert ds.budget.spent.rho == pytest.approx(rel.rho) and ds.budget.remaining.rho == pytest.approx(0, abs=1e-12)
    assert rel.epsilon == pytest.approx(1.0)
    with platform.runtime.transaction() as s:
        row = s.get(Dataset, ds.id)
        assert row.table_path is None and row.control_path is None  # no private table on the platform
    card = platform.get_release_card(team.owner, rel.id)
    assert "not measured" in card.lower() and all(site in card for site in SITES)


def test_journey_register_officer_approves_with_reason_then_download(platform, fed_model):
    team = make_team(platform)
    rel = register(platform, team, fed_model)
    with pytest.raises(ApprovalRefusedError, match="federated fit"):
        platform.approve(team.officer, rel.id, "looks fine")  # not measured: needs the override
    approved = platform.approve(team.officer, rel.id, "accounting reviewed with the sites' audit logs", override=True)
    assert approved.state == "approved" and approved.override
    bundle_zip = platform.download(team.owner, rel.id, "bundle").data
    with zipfile.ZipFile(io.BytesIO(bundle_zip)) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        synthetic = pd.read_csv(io.BytesIO(zf.read("synthetic.csv")))
    assert manifest["kind"] == "federated"
    assert manifest["federation"]["sites"] == sorted(SITES)
    assert "not measured" in manifest["evaluation"]["not_measured"]
    assert list(synthetic.columns) == list(platform.get_dataset(team.owner, rel.dataset_id).columns)
    assert len(synthetic) == rel.rows
    from app.api.models import release_out

    shown = release_out(platform.get_release(team.owner, rel.id)).model_dump()  # what the HTTP API answers
    assert shown["federation"]["sites"] == sorted(SITES) and shown["downloadable"]


def test_a_fit_is_registered_once(platform, fed_model):
    team = make_team(platform)
    register(platform, team, fed_model)
    with pytest.raises(ConflictError, match="already registered"):
        register(platform, team, fed_model, name="union again")
    assert [d.name for d in platform.list_datasets(team.owner)] == ["union"]


def test_a_central_model_is_not_a_federated_fit(platform):
    from tests.app_core.core_helpers import small_titanic
    from synthgen.schema import Schema
    from synthgen.synthesizers import fit
    from synthgen.synthesizers.config import MST
    from synthgen.budget import PrivacyBudget

    data, schema_json = small_titanic()
    central = fit(pd.read_csv(io.BytesIO(data)), Schema.from_json(schema_json), MST(), PrivacyBudget.from_epsilon(1, 1e-9))
    team = make_team(platform)
    with pytest.raises(ModelFileError, match="not a federated fit"):
        register(platform, team, central.to_bytes())
    assert platform.list_datasets(team.owner) == []


@pytest.mark.parametrize("edit, what", [
    (lambda i: i["accounting"]["federation"].update(epsilon=0.5), "rho"),
    (lambda i: i["accounting"]["federation"].update(colluding=0), "noise scale"),
    (lambda i: i["accounting"]["federation"].update(sites=i["accounting"]["federation"]["sites"][:2]), "noise scale"),
    (lambda i: i["accounting"]["federation"]["rounds"][2].update(noise_scale_per_site=1.0), "noise scale"),
    (lambda i: i["accounting"]["federation"].update(guarantee="rho 0 against everyone"), "trust-model"),
])
def test_an_altered_federation_record_is_refused(platform, fed_model, edit, what):
    team = make_team(platform)
    with pytest.raises(ModelFileError, match=f"altered after the fit.*{what}"):
        register(platform, team, with_info(fed_model, edit))
    assert platform.list_datasets(team.owner) == []


def test_cli_registers_a_federated_fit_and_refuses_an_altered_one(platform, settings, monkeypatch, capsys, tmp_path,
                                                                   fed_model):
    from app.cli import main

    team = make_team(platform)
    good, bad = tmp_path / "union.zip", tmp_path / "altered.zip"
    good.write_bytes(fed_model)
    bad.write_bytes(with_info(fed_model, lambda i: i["accounting"]["federation"].update(colluding=0)))
    for k, v in settings.to_env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("SYNTHGEN_USERNAME", "owner")
    monkeypatch.setenv("SYNTHGEN_PASSWORD", "correct horse battery staple 42")
    assert main(["federate", "register", str(bad), "--name", "union", "--classification", "internal"]) != 0
    assert "federation record was altered after the fit" in capsys.readouterr().err
    assert main(["federate", "register", str(good), "--name", "union", "--classification", "internal"]) == 0
    out = capsys.readouterr().out
    assert "across 3 sites" in out and all(site in out for site in SITES)
    (ds,) = platform.list_datasets(team.owner)
    assert ds.name == "union" and ds.federation is not None



def test_nothing_refits_rebudgets_or_reads_a_federated_dataset(platform, fed_model):
    from synthgen.errors import InvalidInputError

    team = make_team(platform)
    ds_id = register(platform, team, fed_model).dataset_id
    attempts = [
        lambda: platform.request_release(team.owner, ds_id, synthesizer="mst", epsilon=0.1),
        lambda: platform.set_budget(team.owner, ds_id, 5.0),
        lambda: platform.draft_schema(team.owner, ds_id),
    ]
    for attempt in attempts:
        with pytest.raises(InvalidInputError, match="federated fit with no table on the platform"):
            attempt()
    assert platform.budget_summary(team.owner, ds_id).remaining.rho == pytest.approx(0, abs=1e-12)


def test_a_restricted_federated_fit_needs_two_privacy_officers(platform, fed_model):
    """The union's classification applies as an upload's: restricted data needs a second officer."""
    team = make_team(platform)
    rel = platform.register_federated(team.owner, "union.zip", fed_model, name="union", classification="restricted")
    first = platform.approve(team.officer, rel.id, "accounting reviewed", override=True)
    assert first.state == "second_review" and first.approvals_required == 2
    assert platform.approve(team.officer2, rel.id, "accounting reviewed", override=True).state == "approved"


def test_registering_needs_a_known_classification(platform, fed_model):
    team = make_team(platform)
    with pytest.raises(InvalidInputError, match="classification"):
        platform.register_federated(team.owner, "union.zip", fed_model, name="union", classification="secret")
    assert platform.list_datasets(team.owner) == []
