"""The site's own checks, called in-process: approval, ledger, neighbouring datasets."""

import secrets
from dataclasses import replace

import numpy as np
import pytest

from synthgen.errors import BudgetExceededError
from synthgen.federation import masking, pki
from synthgen.federation.plan import FitPlan, RoundSpec, sensitivity
from synthgen.federation.site import ApprovalError, Site
from synthgen.federation.transport import decode_vector
from tests.synthgen.federation.helpers import SITES, SPLIT, build


@pytest.fixture(scope="module")
def fed(tmp_path_factory):
    return build(tmp_path_factory.mktemp("federation"))


def _site(fed, name="site-a", frame=None):
    from synthgen.schema import Schema

    frame = fed.frame.iloc[slice(*SPLIT[name])] if frame is None else frame
    return Site(name, frame, Schema.load(fed.schema_path), fed.credentials(name), fed.state(name))


def _plan(fed, **changes):
    from synthgen.schema import Schema

    fields = dict(fit_id=secrets.token_hex(16), coordinator="coord", sites=SITES, colluding=0, synthesizer="mst",
                  schema_fingerprint=Schema.load(fed.schema_path).fingerprint(), epsilon=1.0, delta=1e-9,
                  round_rho=(0.004, 0.001, 0.009))
    return FitPlan(**{**fields, **changes})


def _join(site, fed, plan):
    from synthgen.schema import Schema

    coord = fed.credentials("coord").certificate()
    return site.handle("/v1/join", {"plan": plan.to_dict(), "schema": Schema.load(fed.schema_path).to_dict()}, coord)


def test_only_the_approved_coordinator_is_served(fed):
    site = _site(fed)
    other_member = fed.credentials("site-b").certificate()
    with pytest.raises(pki.CertificateError, match="not the coordinator"):
        site.handle("/v1/join", {}, other_member)
    assert site.audit.entries()[-1]["event"] == "refused"


@pytest.mark.parametrize("changes, reason", [
    ({"round_rho": (0.01, 0.01, 0.01)}, "more than the approved epsilon 1 per fit"),
    ({"round_rho": (0.004, 0.001, 0.009), "epsilon": 0.5}, "more than its declared epsilon 0.5"),
    ({"sites": ("site-a", "site-b", "site-z")}, "not approved peers"),
    ({"sites": ("site-b", "site-c")}, "not among the plan's sites"),
    ({"schema_fingerprint": "0" * 64}, "schema is not the one the owner accepted"),
    ({"delta": 1e-8}, "delta"),
])
def test_join_outside_the_approval_is_refused_and_audited(fed, changes, reason):
    site = _site(fed)
    plan = _plan(fed, **changes)
    with pytest.raises(ApprovalError, match=reason):
        _join(site, fed, plan)
    assert site.audit.entries()[-1]["event"] == "join_refused"
    assert plan.fit_id not in site.ledger.read()["fits"]


def _bundle(fed, plan, answers):
    return [{k: a[k] for k in ("site", "x25519", "signature", "certificate")} for a in answers]


def test_a_round_is_charged_first_and_never_answered_twice(fed):
    sites = {name: _site(fed, name) for name in SITES}
    plan = _plan(fed)
    bundle = _bundle(fed, plan, [_join(s, fed, plan) for s in sites.values()])
    coord = fed.credentials("coord").certificate()
    before = sites["site-a"].ledger.read()["spent_rho"]
    body = {"fit_id": plan.fit_id, "round": RoundSpec(0, (("sex",), ("income",))).to_dict(), "keys": bundle}
    sites["site-a"].handle("/v1/round", body, coord)
    assert sites["site-a"].ledger.read()["spent_rho"] == pytest.approx(before + 0.004)
    with pytest.raises(ApprovalError, match="already answered"):
        sites["site-a"].handle("/v1/round", body, coord)
    # a second join under the same fit id is refused too
    with pytest.raises(ApprovalError, match="never reused"):
        _join(sites["site-a"], fed, plan)


def test_a_substituted_key_in_the_bundle_is_refused(fed):
    sites = {name: _site(fed, name) for name in SITES}
    plan = _plan(fed)
    bundle = _bundle(fed, plan, [_join(s, fed, plan) for s in sites.values()])
    bundle[1] = {**bundle[1], "x25519": masking.public_bytes(masking.new_key_pair()).hex()}  # coordinator's own key
    body = {"fit_id": plan.fit_id, "round": RoundSpec(0, (("sex",),)).to_dict(), "keys": bundle}
    with pytest.raises(masking.KeyAgreementError, match="does not verify"):
        sites["site-a"].handle("/v1/round", body, fed.credentials("coord").certificate())
    assert "0" not in sites["site-a"].ledger.read()["fits"][plan.fit_id]["rounds"]


def test_budget_beyond_the_total_is_refused(fed, tmp_path):
    site = _site(fed, "site-c")
    site.ledger.path = tmp_path / "ledger.json"  # a fresh ledger close to its limit
    site.ledger.path.write_text('{"spent_rho": %r, "fits": {}}' % (site.ledger.total.rho - 0.002))
    plan = _plan(fed)
    answers = [_join(s, fed, plan) for s in (_site(fed, "site-a"), _site(fed, "site-b"), site)]
    body = {"fit_id": plan.fit_id, "round": RoundSpec(0, (("sex",),)).to_dict(), "keys": _bundle(fed, plan, answers)}
    with pytest.raises(BudgetExceededError, match="requested rho 0.004"):
        site.handle("/v1/round", body, fed.credentials("coord").certificate())


def test_neighbouring_tables_change_the_measured_counts_by_at_most_the_sensitivity(fed):
    """Removing one row moves the stacked marginals of a round by <= sensitivity in L2 norm."""
    frame = fed.frame.iloc[slice(*SPLIT["site-a"])]
    full, neighbour = _site(fed, "site-a", frame), _site(fed, "site-a", frame.drop(frame.index[17]))
    cliques = (("age", "education"), ("sex", "income"), ("workclass",))
    schema = full.schema
    shapes = [tuple(schema.column(a).cardinality for a in c) for c in cliques]
    diff = np.concatenate([full._counts(c, s) - neighbour._counts(c, s) for c, s in zip(cliques, shapes)])
    assert 0 < np.linalg.norm(diff) <= sensitivity(schema, len(cliques))
    assert np.linalg.norm(diff) == pytest.approx(sensitivity(schema, len(cliques)))


def test_the_noise_scale_does_not_depend_on_the_table(fed):
    """Same plan, different tables (and sizes): the same per-site noise scale is recorded."""
    plan = _plan(fed)
    scales = []
    for name in ("site-a", "site-c"):
        from synthgen.federation.plan import round_sigma

        scales.append(round_sigma(plan, _site(fed, name).schema, RoundSpec(0, (("sex",),))))
    assert scales[0] == scales[1]


def test_a_masked_answer_carries_no_plain_count(fed):
    sites = {name: _site(fed, name) for name in SITES}
    plan = _plan(fed)
    bundle = _bundle(fed, plan, [_join(s, fed, plan) for s in sites.values()])
    body = {"fit_id": plan.fit_id, "round": RoundSpec(0, (("sex",),)).to_dict(), "keys": bundle}
    answer = sites["site-b"].handle("/v1/round", body, fed.credentials("coord").certificate())
    words = decode_vector(answer["vectors"][0], 2).astype(np.int64)
    # the real counts are below 1,000; a masked word is that small with probability ~2^-53
    assert (np.abs(words) > 10**6).all()


def test_a_declared_colluder_raises_every_share_to_keep_the_central_noise_among_the_honest(fed):
    from synthgen.federation.plan import round_sigma

    schema = _site(fed).schema
    spec = RoundSpec(0, (("sex",), ("income",)))
    honest_only = round_sigma(_plan(fed, colluding=0), schema, spec)
    one_colluder = round_sigma(_plan(fed, colluding=1), schema, spec)
    # variance sigma^2/(n-c): with n = 3, c = 1 each share carries 3/2 of the c = 0 variance
    assert (one_colluder / honest_only) ** 2 == pytest.approx(3 / 2, rel=1e-6)


def test_site_status_shows_the_spend_and_catches_a_tampered_audit_log(fed):
    from tests.synthgen.federation.helpers import cli

    site = _site(fed, "site-b")
    plan = _plan(fed)
    _join(site, fed, plan)
    state = str(fed.state("site-b"))
    done = cli("site", "status", "--state-dir", state)
    assert f"fit {plan.fit_id}: joined, coordinator coord" in done.stdout and "hash chain intact" in done.stdout
    log = fed.state("site-b") / "audit.jsonl"
    lines = log.read_text().splitlines()
    log.write_text("\n".join(lines[:-2] + lines[-1:]) + "\n")  # one entry removed
    done = cli("site", "status", "--state-dir", state, check=False)
    assert done.returncode == 2 and f"is broken at line {len(lines) - 1}" in done.stderr


def test_federated_fit_refuses_a_one_column_schema_before_connecting(fed):
    from synthgen.errors import InvalidInputError
    from synthgen.federation.coordinator import SiteAddress, federated_fit
    from synthgen.schema import Schema

    schema = Schema.load(fed.schema_path)
    one = replace(schema, columns=tuple(c for c in schema.columns if c.name == "sex"))
    closed = [SiteAddress(name, f"127.0.0.1:{port}") for name, port in zip(SITES, (1, 2, 3))]
    with pytest.raises(InvalidInputError, match="must have at least 2 for a federated MST"):
        federated_fit(closed, one, fed.credentials("coord"), epsilon=1.0)
