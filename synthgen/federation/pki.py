"""A small certificate authority per federation, and the mutual-TLS contexts built on it.

Keys are ECDSA P-256 (widely supported by TLS 1.3 stacks, small signatures); certificates carry the
party's name as CN and its role ("site" or "coordinator") as OU, so a site can refuse a peer that
is a valid member of the federation but not a coordinator. The subjectAltName lists the hosts the
party is reached at (``issue(..., hosts=...)``, ``ca issue --host``; by default 127.0.0.1 and
localhost, for a federation tried out on one machine). Clients check it on every connection (see
``Credentials.client_context``), so a certificate is only good at the addresses governance wrote
into it.

Revocation is a CRL signed by the CA, always present (``ca init`` writes an empty one): OpenSSL is
told to check the leaf against it, so a missing or expired CRL fails closed rather than open.

Who holds the CA key matters: whoever holds it can mint a site identity. It belongs to the
federation's governance (e.g. a board of the sites), not to the coordinator alone, and each site's
owner additionally pins the names of the peers it accepts (see ``site.Approval``).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from synthgen.errors import ErrorKind, InvalidInputError, SynthgenError
from synthgen.io import atomic_write_bytes

ROLES = ("site", "coordinator")
CRL_DAYS = 30
DEFAULT_HOSTS = ("127.0.0.1", "localhost")
_DNS_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class CertificateError(SynthgenError):
    """A certificate is unknown to the federation's CA, expired, revoked or of the wrong party."""
    kind = ErrorKind.BAD_INPUT  # the operator fixes the certificate, key or revocation list given


@dataclass(frozen=True)
class CAPaths:
    directory: Path

    @property
    def cert(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def key(self) -> Path:
        return self.directory / "ca.key"

    @property
    def crl(self) -> Path:
        return self.directory / "crl.pem"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    atomic_write_bytes(path, pem, mode=0o600)


def check_name(name: str) -> str:
    if not isinstance(name, str) or not name or len(name) > 64 or not all(ch.isalnum() or ch in "-_." for ch in name):
        raise InvalidInputError(f"name ({name!r}) must be 1-64 letters, digits, '-', '_' or '.'")
    return name


def parse_host(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | str:
    """An IP address (IPv6 with or without brackets), or a lower-cased DNS name; anything else is refused."""
    text = host.strip() if isinstance(host, str) else ""
    try:
        return ipaddress.ip_address(text[1:-1] if text.startswith("[") and text.endswith("]") else text)
    except ValueError:
        pass
    name = text.lower().rstrip(".")
    if not name or len(name) > 253 or not all(_DNS_LABEL.match(label) for label in name.split(".")) or name.replace(".", "").isdigit():
        raise InvalidInputError(f"host ({host!r}) must be a DNS name (letters, digits, '-' between dots) or an IP address")
    return name


def _subject_alt_names(hosts) -> x509.SubjectAlternativeName:
    if isinstance(hosts, str) or not hosts:
        raise InvalidInputError(f"hosts ({hosts!r}) must list at least one DNS name or IP address")
    names: list[x509.GeneralName] = []
    for host in hosts:
        parsed = parse_host(host)
        entry = x509.DNSName(parsed) if isinstance(parsed, str) else x509.IPAddress(parsed)
        if entry not in names:
            names.append(entry)
    return x509.SubjectAlternativeName(names)


def init_ca(directory: str | Path, name: str, *, days: int = 365) -> CAPaths:
    """Create the federation CA (key, self-signed certificate, empty CRL). Refuses to overwrite."""
    paths = CAPaths(Path(directory))
    check_name(name)
    if paths.key.exists():
        raise InvalidInputError(f"CA directory ({directory}) already holds a CA key; refusing to overwrite it")
    paths.directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} federation CA")])
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - dt.timedelta(minutes=5)).not_valid_after(_now() + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_key(paths.key, key)
    atomic_write_bytes(paths.cert, cert.public_bytes(serialization.Encoding.PEM))
    _write_crl(paths, key, cert, [])
    return paths


def _load_ca(paths: CAPaths) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    if not paths.key.is_file() or not paths.cert.is_file():
        raise InvalidInputError(f"CA directory ({paths.directory}) has no CA; run 'synthgen federate ca init' first")
    key = serialization.load_pem_private_key(paths.key.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise InvalidInputError(f"CA key ({paths.key}) must be an EC key")
    return key, x509.load_pem_x509_certificate(paths.cert.read_bytes())


def issue(
    ca_directory: str | Path, name: str, role: str, out_directory: str | Path, *,
    days: int = 90, not_before: dt.datetime | None = None, not_after: dt.datetime | None = None,
    hosts: tuple[str, ...] | list[str] = DEFAULT_HOSTS,
) -> tuple[Path, Path]:
    """Issue ``<name>.pem`` and ``<name>.key`` for a site or the coordinator, valid at ``hosts``."""
    check_name(name)
    alt_names = _subject_alt_names(hosts)
    if role not in ROLES:
        raise InvalidInputError(f"role ({role!r}) must be one of {', '.join(ROLES)}")
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 825:
        raise InvalidInputError(f"days ({days!r}) must be an integer between 1 and 825")
    ca_key, ca_cert = _load_ca(CAPaths(Path(ca_directory)))
    key = ec.generate_private_key(ec.SECP256R1())
    start = not_before or _now() - dt.timedelta(minutes=5)
    end = not_after or start + dt.timedelta(days=days)
    subject = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, name),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, role),
    ])
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(ca_cert.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, True, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(alt_names, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    out = Path(out_directory)
    out.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = out / f"{name}.pem", out / f"{name}.key"
    _write_key(key_path, key)
    atomic_write_bytes(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def _write_crl(paths: CAPaths, key, ca_cert: x509.Certificate, revoked: list[x509.RevokedCertificate]) -> None:
    builder = x509.CertificateRevocationListBuilder().issuer_name(ca_cert.subject)
    builder = builder.last_update(_now() - dt.timedelta(minutes=5)).next_update(_now() + dt.timedelta(days=CRL_DAYS))
    for entry in revoked:
        builder = builder.add_revoked_certificate(entry)
    crl = builder.sign(key, hashes.SHA256())
    atomic_write_bytes(paths.crl, crl.public_bytes(serialization.Encoding.PEM))


def revoke(ca_directory: str | Path, cert_path: str | Path) -> None:
    """Add a certificate to the CRL (distribute the new crl.pem to every party)."""
    paths = CAPaths(Path(ca_directory))
    key, ca_cert = _load_ca(paths)
    cert = load_certificate(cert_path)
    existing = x509.load_pem_x509_crl(paths.crl.read_bytes()) if paths.crl.is_file() else None
    entries = list(existing) if existing is not None else []
    if not any(e.serial_number == cert.serial_number for e in entries):
        entries.append(x509.RevokedCertificateBuilder().serial_number(cert.serial_number).revocation_date(_now()).build())
    _write_crl(paths, key, ca_cert, entries)


def load_certificate(path: str | Path) -> x509.Certificate:
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"certificate ({path}) does not exist")
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except ValueError:
        raise InvalidInputError(f"certificate ({path}) is not a PEM certificate") from None


def identity(cert: x509.Certificate) -> tuple[str, str]:
    """(name, role) written in a certificate by the federation CA."""
    def one(oid) -> str:
        values = cert.subject.get_attributes_for_oid(oid)
        return str(values[0].value) if values else ""

    return one(NameOID.COMMON_NAME), one(NameOID.ORGANIZATIONAL_UNIT_NAME)


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def verify_member(cert: x509.Certificate, ca_cert: x509.Certificate, crl: x509.CertificateRevocationList, *, name: str, role: str) -> None:
    """Check a peer certificate outside TLS (for the key announcements relayed by the coordinator)."""
    try:
        cert.verify_directly_issued_by(ca_cert)
    except Exception:  # noqa: BLE001 - ValueError/TypeError/InvalidSignature all mean "not ours"
        raise CertificateError(f"certificate of {name!r} is not issued by this federation's CA") from None
    now = _now()
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise CertificateError(f"certificate of {name!r} is expired or not yet valid")
    if crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None:
        raise CertificateError(f"certificate of {name!r} is revoked")
    if identity(cert) != (name, role):
        raise CertificateError(f"certificate names {identity(cert)}, expected {(name, role)}")


@dataclass(frozen=True)
class Credentials:
    """One party's certificate and key, and the federation's CA certificate and CRL."""

    cert: Path
    key: Path
    ca: Path
    crl: Path

    def __post_init__(self) -> None:
        for field_name in ("cert", "key", "ca", "crl"):
            path = Path(getattr(self, field_name))
            if not path.is_file():
                raise InvalidInputError(f"{field_name} ({path}) does not exist")
            object.__setattr__(self, field_name, path)
        cert, ca = load_certificate(self.cert), load_certificate(self.ca)
        try:
            cert.verify_directly_issued_by(ca)
        except Exception:  # noqa: BLE001
            raise CertificateError(f"cert ({self.cert}) is not issued by the CA in {self.ca}") from None
        if cert.not_valid_after_utc < _now():
            raise CertificateError(f"cert ({self.cert}) expired on {cert.not_valid_after_utc:%Y-%m-%d}")

    def certificate(self) -> x509.Certificate:
        return load_certificate(self.cert)

    def ca_certificate(self) -> x509.Certificate:
        return load_certificate(self.ca)

    def revocations(self) -> x509.CertificateRevocationList:
        return x509.load_pem_x509_crl(self.crl.read_bytes())

    def signing_key(self) -> ec.EllipticCurvePrivateKey:
        key = serialization.load_pem_private_key(self.key.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise InvalidInputError(f"key ({self.key}) must be an EC key")
        return key

    def _context(self, purpose: int) -> ssl.SSLContext:
        context = ssl.SSLContext(purpose)
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        context.load_cert_chain(str(self.cert), str(self.key))
        context.load_verify_locations(cafile=str(self.ca))
        context.load_verify_locations(cafile=str(self.crl))
        # fail closed: without a valid CRL for the leaf, the handshake fails
        context.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF | ssl.VERIFY_X509_STRICT
        context.verify_mode = ssl.CERT_REQUIRED
        return context

    def server_context(self) -> ssl.SSLContext:
        return self._context(ssl.PROTOCOL_TLS_SERVER)

    def client_context(self) -> ssl.SSLContext:
        context = self._context(ssl.PROTOCOL_TLS_CLIENT)
        # Two checks, for two different lies. The caller compares the certificate's identity (CN,
        # OU) with the party it meant to reach: that proves WHICH member answered, but any member's
        # certificate passes the CA check, so a site could be impersonated by another member that
        # managed to redirect its address (DNS, routing). Hostname verification proves the peer's
        # certificate was issued for the address we dialled, i.e. the connection was not
        # redirected to a host governance never vouched for. Neither check implies the other.
        context.check_hostname = True
        return context


