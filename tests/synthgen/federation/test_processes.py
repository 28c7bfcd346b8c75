"""Three site processes and a coordinator on loopback, each on its own port and certificate."""

import datetime as dt
import ssl

import numpy as np
import pytest
from scipy import stats

from synthgen.federation import pki
from synthgen.federation.coordinator import FederationAbortedError, SiteAddress, federated_fit
from synthgen.federation.ring import FixedPointRing, ring_sum
from synthgen.federation.transport import PeerError, post
from synthgen.model import FittedModel
from synthgen.schema import Schema
from synthgen.synthesizers.config import MST
from tests.synthgen.federation.helpers import SITES, SiteProcess, build, cli

pytestmark = pytest.mark.slow
FAST = MST(estimation_iters=200)


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    fed = build(tmp_path_factory.mktemp("federation"))
    processes = {name: SiteProcess(fed, name) for name in SITES}
    yield fed, processes
    for p in processes.values():
        p.stop()


def _addresses(processes):
    return [SiteAddress(name, p.address) for name, p in processes.items()]


def test_cli_fit_over_three_sites_charges_every_ledger_and_audits_the_coordinator(running, tmp_path):
    fed, processes = running
    creds = fed.credentials("coord")
    out = tmp_path / "model.zip"
    done = cli("federate", "fit", "--sites", *[f"{n}={p.address}" for n, p in processes.items()], "--schema", str(fed.schema_path),
               "--synthesizer", "mst", "--epsilon", "1", "-o", str(out),
               "--cert", str(creds.cert), "--key", str(creds.key), "--ca", str(creds.ca), "--crl", str(creds.crl))
    assert "federated mst over 3 sites" in done.stderr
    model = FittedModel.load(out)
    federation = model.info["accounting"]["federation"]
    assert federation["sites"] == list(SITES)
    sample = model.sample(500, rng=np.random.default_rng(0))
    assert list(sample.columns) == [c.name for c in Schema.load(fed.schema_path).columns]
    # the DP row estimate is near the pooled 3,000 rows, never the exact count
    assert 2500 < model.default_rows < 3500
    fit_id = federation["fit_id"]
    fingerprint = pki.fingerprint(creds.certificate())
    for name in SITES:
        record = fed.ledger(name)["fits"][fit_id]
        assert record["status"] == "completed" and sorted(record["rounds"]) == ["0", "1", "2"]
        assert sum(record["rounds"].values()) == pytest.approx(model.info["budget"]["rho"])
        rounds = [e for e in fed.audit(name) if e.get("fit_id") == fit_id and e["event"] == "round"]
        assert len(rounds) == 3 and {(e["coordinator"], e["fingerprint"]) for e in rounds} == {("coord", fingerprint)}
        # every site computed the same noise scale as the coordinator assumed, each on its own
        assert [e["noise_scale"] for e in rounds] == [r["noise_scale_per_site"] for r in federation["rounds"]]
        assert not any("counts" in e or "vectors" in e for e in fed.audit(name))


def test_the_coordinators_transcript_is_indistinguishable_from_uniform(running):
    fed, processes = running
    fit = federated_fit(_addresses(processes), Schema.load(fed.schema_path), fed.credentials("coord"), epsilon=1.0, config=FAST)
    round_pairs = fit.transcript[1]  # all pairs: the longest vectors of the fit
    words = {name: np.concatenate(vectors) for name, vectors in round_pairs.items()}
    n = words["site-a"].size
    assert n > 1000

    def uniform_pvalues(v: np.ndarray) -> list[float]:
        as_unit = v.astype(np.float64) / 2.0**64
        out = [stats.kstest(as_unit, "uniform").pvalue]
        raw = v.astype("<u8").view(np.uint8).reshape(-1, 8)
        for byte in range(8):  # every byte position of the word, low (counts live here) to high
            observed = np.bincount(raw[:, byte], minlength=256)
            out.append(stats.chisquare(observed).pvalue)
        return out

    # one site's vector, and the sum of any two (still missing the third site's masks)
    candidates = [words[s] for s in SITES] + [ring_sum([words[a], words[b]]) for a, b in [("site-a", "site-b"), ("site-a", "site-c"), ("site-b", "site-c")]]
    for vector in candidates:
        assert min(uniform_pvalues(vector)) > 1e-4
    # the same tests reject the unmasked noisy sum, so they do have power
    total = ring_sum([words[s] for s in SITES])
    assert min(uniform_pvalues(total)) < 1e-12
    decoded = FixedPointRing().decode(total)
    assert abs(decoded.sum() / 15 - 3000) < 600  # 15 pairs of a 3,000-row table, plus noise


def test_refusals_another_ca_an_expired_and_a_revoked_certificate(running, tmp_path):
    fed, processes = running
    address = processes["site-a"].address
    plan_free = {"fit_id": "0" * 32}

    # a coordinator with a certificate from another CA (self-consistent, so it passes its own checks)
    pki.init_ca(tmp_path / "other", "other")
    pki.issue(tmp_path / "other", "coord", "coordinator", tmp_path / "other-certs")
    stranger = pki.Credentials(tmp_path / "other-certs/coord.pem", tmp_path / "other-certs/coord.key", tmp_path / "other/ca.pem", tmp_path / "other/crl.pem")
    with pytest.raises(PeerError):
        post(stranger, address, "/v1/finish", plan_free, expect=("site-a", "site"), timeout=10)

    # the site refuses a TLS handshake from an expired coordinator certificate (built by hand: our
    # own Credentials refuse to load it at all)
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=10)
    pki.issue(fed.root / "ca", "coord", "coordinator", tmp_path / "expired", not_before=past, not_after=past + dt.timedelta(days=1))
    with pytest.raises(pki.CertificateError, match="expired"):
        pki.Credentials(tmp_path / "expired/coord.pem", tmp_path / "expired/coord.key", fed.root / "ca/ca.pem", fed.root / "ca/crl.pem")
    _assert_handshake_refused(address, tmp_path / "expired/coord.pem", tmp_path / "expired/coord.key", fed.root / "ca/ca.pem")

    # a second, valid coordinator certificate works until it is revoked; the site picks up the new CRL
    pki.issue(fed.root / "ca", "coord", "coordinator", tmp_path / "second")
    second = pki.Credentials(tmp_path / "second/coord.pem", tmp_path / "second/coord.key", fed.root / "ca/ca.pem", fed.root / "ca/crl.pem")
    assert post(second, address, "/v1/finish", {"fit_id": "1" * 32, "status": "aborted"}, expect=("site-a", "site"))["site"] == "site-a"
    cli("federate", "ca", "revoke", "--dir", str(fed.root / "ca"), "--cert", str(tmp_path / "second/coord.pem"))
    with pytest.raises(PeerError):
        post(second, address, "/v1/finish", {"fit_id": "1" * 32, "status": "aborted"}, expect=("site-a", "site"), timeout=10)
    # the first coordinator certificate is untouched by the revocation
    assert post(fed.credentials("coord"), address, "/v1/finish", {"fit_id": "1" * 32, "status": "aborted"}, expect=("site-a", "site"))

    # a valid member of the federation that is not the coordinator is refused after the handshake
    with pytest.raises(PeerError, match="not the coordinator"):
        post(fed.credentials("site-b"), address, "/v1/finish", plan_free, expect=("site-a", "site"))
    # and the coordinator refuses a site answering under another site's name
    with pytest.raises(pki.CertificateError, match="expected"):
        post(fed.credentials("coord"), address, "/v1/finish", plan_free, expect=("site-b", "site"))


def _assert_handshake_refused(address: str, cert, key, ca) -> None:
    import http.client

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_cert_chain(str(cert), str(key))
    context.load_verify_locations(cafile=str(ca))
    host, _, port = address.rpartition(":")
    connection = http.client.HTTPSConnection(host, int(port), context=context, timeout=10)
    with pytest.raises((ssl.SSLError, ConnectionError, http.client.RemoteDisconnected)):
        connection.request("POST", "/v1/finish", body=b"{}", headers={"Content-Type": "application/json"})
        connection.getresponse().read()
    connection.close()


def test_cli_validates_eagerly_with_one_line_errors(running, tmp_path):
    fed, _ = running
    creds = fed.credentials("coord")
    common = ["--schema", str(fed.schema_path), "-o", str(tmp_path / "m.zip"), "--cert", str(creds.cert), "--key", str(creds.key),
              "--ca", str(creds.ca), "--crl", str(creds.crl)]
    sites = ["--sites", "site-a=127.0.0.1:1", "site-b=127.0.0.1:2", "site-c=127.0.0.1:3"]
    cases = [
        (["--epsilon", "-1"], "epsilon (-1.0) must be positive"),
        (["--epsilon", "1", "--synthesizer", "aim"], "synthesizer ('aim') must be mst"),
        (["--epsilon", "1", "--colluding", "3"], "colluding (3) must be an integer between 0 and sites - 1 (2)"),
        (["--epsilon", "1", "--cert", str(fed.root / "certs/site-a.pem")], "is a site certificate, not a coordinator's"),
    ]
    pki.init_ca(tmp_path / "other", "other")
    pki.issue(tmp_path / "other", "coord", "coordinator", tmp_path / "oc")
    cases.append((["--epsilon", "1", "--cert", str(tmp_path / "oc/coord.pem"), "--key", str(tmp_path / "oc/coord.key")], "is not issued by the CA"))
    for extra, message in cases:
        done = cli("federate", "fit", *sites, *common, *extra, check=False)
        assert done.returncode == 2, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], done.stderr
    assert not (tmp_path / "m.zip").exists()


def test_a_site_killed_mid_fit_aborts_the_round_and_its_budget_stays_spent(tmp_path):
    fed = build(tmp_path)
    processes = {name: SiteProcess(fed, name) for name in SITES}
    try:
        def kill_site_c(finished_round: int) -> None:
            if finished_round == 0:
                processes["site-c"].kill()

        with pytest.raises(FederationAbortedError, match="aborted.*site-c.*stays charged"):
            federated_fit(_addresses(processes), Schema.load(fed.schema_path), fed.credentials("coord"), epsilon=1.0,
                          config=FAST, between_rounds=kill_site_c)
        for name in ("site-a", "site-b"):
            (fit_id, record), = fed.ledger(name)["fits"].items()
            # round 0 completed, round 1 was answered (and charged) before the abort; nothing after
            assert sorted(record["rounds"]) == ["0", "1"] and record["status"] == "aborted"
            assert fed.ledger(name)["spent_rho"] == pytest.approx(sum(record["rounds"].values()))
            assert [e["event"] for e in fed.audit(name) if e.get("fit_id") == fit_id][-1] == "finished"
        (record_c,) = fed.ledger("site-c")["fits"].values()
        assert sorted(record_c["rounds"]) == ["0"]
    finally:
        for p in processes.values():
            p.stop()
