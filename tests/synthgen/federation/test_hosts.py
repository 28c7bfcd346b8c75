"""Parties on real hosts: certificates name the hosts (``ca issue --host``), sites bind any address,
and the coordinator's client verifies that the site's certificate names the host it dialled."""

import ipaddress

import pytest

from synthgen.errors import InvalidInputError
from synthgen.federation import pki
from synthgen.federation.coordinator import SiteAddress
from synthgen.federation.transport import post, serve, serve_in_thread
from tests.synthgen.federation.helpers import cli

FORM = "must look like NAME=HOST:PORT (HOST a DNS name, an IPv4 address or an IPv6 address in brackets)"


@pytest.mark.parametrize("text", ["site-a=127.0.0.1:8441", "site-a=site-a.example.org:443", "site-a=[::1]:8441",
                                  "site-a=[2001:db8::7]:1", "site-a=Hospital-1.Example.ORG:8441"])
def test_site_address_accepts_dns_names_ipv4_and_bracketed_ipv6(text):
    site = SiteAddress.parse(text)
    assert (site.name, site.address) == tuple(text.split("=", 1))


@pytest.mark.parametrize("text", ["site-a=::1:8441", "site-a=127.0.0.1", "site-a=host_x:1", "127.0.0.1:1",
                                  "site-a=[example.org]:1", "site-a=1.2.3:5", "site-a=h:70000", "site-a=h:0",
                                  "site-a=-bad.example:1", "site-a=:8441"])
def test_site_address_refuses_malformed_input_with_one_line(text):
    with pytest.raises(InvalidInputError) as caught:
        SiteAddress.parse(text)
    assert str(caught.value) == f"site ({text!r}) {FORM}"


def test_issue_writes_the_given_hosts_into_the_subject_alt_name(tmp_path):
    pki.init_ca(tmp_path / "ca", "test")
    cli("federate", "ca", "issue", "--dir", str(tmp_path / "ca"), "--name", "site-a", "--role", "site", "--out",
        str(tmp_path / "certs"), "--host", "site-a.example.org", "--host", "10.0.0.7", "--host", "[2001:db8::7]")
    cert = pki.load_certificate(tmp_path / "certs/site-a.pem")
    san = cert.extensions.get_extension_for_class(pki.x509.SubjectAlternativeName).value
    assert san.get_values_for_type(pki.x509.DNSName) == ["site-a.example.org"]
    assert san.get_values_for_type(pki.x509.IPAddress) == [ipaddress.ip_address("10.0.0.7"), ipaddress.ip_address("2001:db8::7")]

    default, _ = pki.issue(tmp_path / "ca", "site-b", "site", tmp_path / "certs")
    san = pki.load_certificate(default).extensions.get_extension_for_class(pki.x509.SubjectAlternativeName).value
    assert san.get_values_for_type(pki.x509.DNSName) == ["localhost"]
    assert san.get_values_for_type(pki.x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]

    done = cli("federate", "ca", "issue", "--dir", str(tmp_path / "ca"), "--name", "site-c", "--role", "site", "--out",
               str(tmp_path / "certs"), "--host", "bad host", check=False)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: host ('bad host') must be a DNS name (letters, digits, '-' between dots) or an IP address"]
    assert not (tmp_path / "certs/site-c.pem").exists()


@pytest.fixture()
def federation(tmp_path):
    pki.init_ca(tmp_path / "ca", "test")
    pki.issue(tmp_path / "ca", "coord", "coordinator", tmp_path / "certs")

    def credentials(name):
        return pki.Credentials(tmp_path / f"certs/{name}.pem", tmp_path / f"certs/{name}.key", tmp_path / "ca/ca.pem", tmp_path / "ca/crl.pem")

    return tmp_path, credentials


def _serve_on_127_0_0_2(credentials):
    calls = []

    def handle(path, body, client_cert):
        calls.append(pki.identity(client_cert))
        return {"ok": True}

    server = serve(credentials, "127.0.0.2", 0, handle)
    serve_in_thread(server)
    return server, f"127.0.0.2:{server.server_address[1]}", calls


def test_a_site_on_another_address_with_a_certificate_naming_it_is_reached(federation):
    root, credentials = federation
    cli("federate", "ca", "issue", "--dir", str(root / "ca"), "--name", "site-a", "--role", "site", "--out",
        str(root / "certs"), "--host", "127.0.0.2")
    server, address, calls = _serve_on_127_0_0_2(credentials("site-a"))
    try:
        site = SiteAddress.parse(f"site-a={address}")
        assert post(credentials("coord"), site.address, "/v1/x", {"a": 1}, expect=("site-a", "site"), timeout=30) == {"ok": True}
    finally:
        server.shutdown()
        server.server_close()
    assert calls == [("coord", "coordinator")]


def test_a_site_whose_certificate_does_not_name_the_dialled_host_is_refused_before_any_request(federation):
    root, credentials = federation
    pki.issue(root / "ca", "site-a", "site", root / "certs")  # default: 127.0.0.1 and localhost only
    server, address, calls = _serve_on_127_0_0_2(credentials("site-a"))
    try:
        with pytest.raises(pki.CertificateError) as caught:
            post(credentials("coord"), address, "/v1/x", {"a": 1}, expect=("site-a", "site"), timeout=30)
    finally:
        server.shutdown()
        server.server_close()
    assert str(caught.value) == (f"site-a at {address}: its certificate does not name 127.0.0.2; the federation CA must "
                                 "issue it with --host 127.0.0.2 (or the address is not the one the certificate was issued for)")
    assert calls == []  # the identity check alone would have passed: this is the hostname check at work


def test_site_serve_refuses_a_malformed_listen_host(federation):
    root, credentials = federation
    pki.issue(root / "ca", "site-a", "site", root / "certs")
    with pytest.raises(InvalidInputError, match=r"host \('not a host'\) must be a DNS name or an IP address to listen on"):
        serve(credentials("site-a"), "not a host", 0, lambda *a: {})
