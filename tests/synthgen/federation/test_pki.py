"""The federation CA, certificates and the checks applied to relayed peer certificates."""

import datetime as dt

import pytest

from synthgen.errors import InvalidInputError
from synthgen.federation import pki
from tests.synthgen.federation.helpers import cli


@pytest.fixture()
def ca(tmp_path):
    pki.init_ca(tmp_path / "ca", "test")
    return tmp_path


def _load(path):
    return pki.load_certificate(path)


def test_init_refuses_to_overwrite_a_ca(ca):
    with pytest.raises(InvalidInputError, match="already holds a CA key"):
        pki.init_ca(ca / "ca", "test")


@pytest.mark.parametrize("name, role, message", [
    ("site a", "site", "name ('site a') must be"),
    ("site-a", "admin", "role ('admin') must be one of site, coordinator"),
])
def test_issue_validates_name_and_role(ca, name, role, message):
    with pytest.raises(InvalidInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        pki.issue(ca / "ca", name, role, ca / "certs")


def test_verify_member_refuses_other_ca_expired_revoked_and_wrong_identity(ca, tmp_path):
    ca_cert, crl = _load(ca / "ca/ca.pem"), lambda: __import__("cryptography").x509.load_pem_x509_crl((ca / "ca/crl.pem").read_bytes())
    good, _ = pki.issue(ca / "ca", "site-a", "site", ca / "certs")
    pki.verify_member(_load(good), ca_cert, crl(), name="site-a", role="site")
    with pytest.raises(pki.CertificateError, match="expected"):
        pki.verify_member(_load(good), ca_cert, crl(), name="site-b", role="site")
    with pytest.raises(pki.CertificateError, match="expected"):
        pki.verify_member(_load(good), ca_cert, crl(), name="site-a", role="coordinator")

    pki.init_ca(tmp_path / "other", "other")
    foreign, _ = pki.issue(tmp_path / "other", "site-a", "site", tmp_path / "other-certs")
    with pytest.raises(pki.CertificateError, match="not issued by this federation's CA"):
        pki.verify_member(_load(foreign), ca_cert, crl(), name="site-a", role="site")

    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=3)
    old, _ = pki.issue(ca / "ca", "site-a", "site", ca / "old", not_before=past, not_after=past + dt.timedelta(days=1))
    with pytest.raises(pki.CertificateError, match="expired"):
        pki.verify_member(_load(old), ca_cert, crl(), name="site-a", role="site")

    pki.revoke(ca / "ca", good)
    with pytest.raises(pki.CertificateError, match="revoked"):
        pki.verify_member(_load(good), ca_cert, crl(), name="site-a", role="site")


def test_credentials_refuse_a_certificate_of_another_ca(ca, tmp_path):
    pki.init_ca(tmp_path / "other", "other")
    cert, key = pki.issue(tmp_path / "other", "coord", "coordinator", tmp_path / "c")
    with pytest.raises(pki.CertificateError, match="is not issued by the CA"):
        pki.Credentials(cert, key, ca / "ca/ca.pem", ca / "ca/crl.pem")
    with pytest.raises(InvalidInputError, match="crl .* does not exist"):
        pki.Credentials(cert, key, ca / "ca/ca.pem", ca / "ca/missing.pem")


def test_site_serve_refuses_to_start_without_the_owners_approval(ca, tmp_path):
    cert, key = pki.issue(ca / "ca", "site-a", "site", ca / "certs")
    (tmp_path / "t.csv").write_text("a\n1\n")
    done = cli("site", "serve", "--name", "site-a", "--data", str(tmp_path / "t.csv"), "--schema", "datasets/adult.schema.json",
               "--state-dir", str(tmp_path / "state"), "--port", "0", "--cert", str(cert), "--key", str(key),
               "--ca", str(ca / "ca/ca.pem"), "--crl", str(ca / "ca/crl.pem"), check=False)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: approval ({tmp_path / 'state/approval.json'}) does not exist: the site's owner must run 'synthgen site approve' first"
    ]


def test_the_federation_package_imports_nothing_from_evaluation_or_app():
    import ast
    from pathlib import Path

    package = Path(pki.__file__).parent
    imported = set()
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module.split(".")[0])
            elif isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
    assert not imported & {"evaluation", "app"}
    assert "synthgen" in imported
