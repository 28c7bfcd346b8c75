"""JSON over HTTPS with mutual TLS (TLS 1.3 only), between parties on any hosts.

Authentication is the TLS handshake against the federation CA and its CRL (see ``pki``);
authorisation is a check of the peer certificate's name and role after the handshake, because
every member of the federation holds a valid certificate but only the approved coordinator may ask
a site for measurements, and only the expected site may answer for its name. The client also
verifies that the server's certificate names the host it dialled (see ``pki.Credentials``).
"""

from __future__ import annotations

import base64
import http.client
import ipaddress
import json
import logging
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

import numpy as np
from cryptography import x509

from synthgen.errors import ErrorKind, InvalidInputError, SynthgenError
from synthgen.federation.pki import CertificateError, Credentials, identity, parse_host

log = logging.getLogger(__name__)
MAX_BODY = 64 * 1024 * 1024
# OpenSSL's X509_V_ERR_HOSTNAME_MISMATCH and X509_V_ERR_IP_ADDRESS_MISMATCH
_HOSTNAME_MISMATCH, _IP_ADDRESS_MISMATCH = 62, 64
ADDRESS_FORM = "HOST:PORT (HOST a DNS name, an IPv4 address or an IPv6 address in brackets)"


class PeerError(SynthgenError):
    """A peer was unreachable, refused the request, or answered for the wrong identity."""
    kind = ErrorKind.BAD_INPUT


def encode_vector(values: np.ndarray) -> str:
    return base64.b64encode(np.asarray(values, dtype="<u8").tobytes()).decode()


def decode_vector(text: str, length: int) -> np.ndarray:
    raw = base64.b64decode(text, validate=True)
    if len(raw) != 8 * length:
        raise PeerError(f"vector has {len(raw) // 8} words, expected {length}")
    return np.frombuffer(raw, dtype="<u8").astype(np.uint64)


def peer_certificate(sock: ssl.SSLSocket) -> x509.Certificate:
    der = sock.getpeercert(binary_form=True)
    if not der:
        raise CertificateError("peer presented no certificate")
    return x509.load_der_x509_certificate(der)


def split_address(address: str) -> tuple[str, int]:
    """``host:port`` -> (host, port), the host checked and IPv6 brackets removed (``[::1]:8441``)."""
    host, sep, port = address.rpartition(":")
    bracketed = host.startswith("[") and host.endswith("]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536 or (":" in host and not bracketed):
        raise InvalidInputError(f"address ({address!r}) must look like {ADDRESS_FORM}")
    try:
        parsed = parse_host(host)
    except InvalidInputError:
        raise InvalidInputError(f"address ({address!r}) must look like {ADDRESS_FORM}") from None
    if bracketed and not isinstance(parsed, ipaddress.IPv6Address):
        raise InvalidInputError(f"address ({address!r}) must look like {ADDRESS_FORM}")
    return str(parsed), int(port)


def url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


Handler = Callable[[str, dict, x509.Certificate], dict]


def serve(credentials: Credentials, host: str, port: int, handle: Handler) -> ThreadingHTTPServer:
    """An HTTPS server on ``host:port`` calling ``handle(path, body, client_cert)`` for each POST."""
    # Any address may be bound (a site faces other organisations over the network): who may talk
    # to it is decided by the mutual-TLS handshake and the coordinator check, not by the interface.
    try:
        parsed = parse_host(host)
    except InvalidInputError:
        raise InvalidInputError(f"host ({host!r}) must be a DNS name or an IP address to listen on") from None
    host = str(parsed)
    credentials.server_context()  # fail at start, not at the first connection, if the files are bad

    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args) -> None:  # requests are audited by the site, not logged raw
            log.debug(fmt, *args)

        def _reply(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            try:
                length = int(self.headers.get("Content-Length", "0"))
                if not 0 < length <= MAX_BODY:
                    raise InvalidInputError(f"request body ({length} bytes) must be between 1 and {MAX_BODY}")
                body = json.loads(self.rfile.read(length))
                reply = handle(self.path, body, peer_certificate(self.connection))
                self._reply(200, reply)
            except SynthgenError as exc:
                self._reply(403 if isinstance(exc, CertificateError) else 400, {"error": str(exc)})
            except Exception as exc:  # noqa: BLE001 - never send a traceback to a peer
                log.exception("internal error in %s", self.path)
                self._reply(500, {"error": f"internal error ({exc.__class__.__name__})"})

    class _Server(ThreadingHTTPServer):
        daemon_threads = True

        def get_request(self):
            # The TLS context is rebuilt whenever crl.pem changes, so a revocation takes effect on
            # the next connection without restarting the site. The handshake runs in the request
            # thread (finish_request), so a slow or hostile client cannot stall the accept loop.
            sock, address = self.socket.accept()
            return contexts.current().wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

        def finish_request(self, request, client_address):
            request.settimeout(60)
            try:
                request.do_handshake()
            except (ssl.SSLError, OSError) as exc:
                log.info("refused a TLS connection from %s: %s", client_address[0], exc.__class__.__name__)
                return
            super().finish_request(request, client_address)

    if isinstance(parsed, ipaddress.IPv6Address):
        _Server.address_family = socket.AF_INET6
    contexts = _ContextCache(credentials)
    return _Server((host, port), _Handler)


class _ContextCache:
    def __init__(self, credentials: Credentials):
        self.credentials = credentials
        self._lock = threading.Lock()
        self._stamp: tuple[float, ...] | None = None
        self._context: ssl.SSLContext | None = None

    def current(self) -> ssl.SSLContext:
        stamp = tuple(p.stat().st_mtime_ns for p in (self.credentials.crl, self.credentials.ca))
        with self._lock:
            if self._context is None or stamp != self._stamp:
                self._context, self._stamp = self.credentials.server_context(), stamp
            return self._context


def serve_in_thread(server: ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


def post(credentials: Credentials, address: str, path: str, body: dict, *, expect: tuple[str, str], timeout: float = 600.0) -> dict:
    """POST JSON to ``https://address/path``; the server must be ``expect`` = (name, role)."""
    host, port = split_address(address)
    connection = http.client.HTTPSConnection(host, port, context=credentials.client_context(), timeout=timeout)
    try:
        try:
            connection.connect()
        except ssl.SSLCertVerificationError as exc:
            if exc.verify_code in (_HOSTNAME_MISMATCH, _IP_ADDRESS_MISMATCH):
                raise CertificateError(
                    f"{expect[0]} at {address}: its certificate does not name {host}; the federation CA must "
                    f"issue it with --host {host} (or the address is not the one the certificate was issued for)"
                ) from None
            raise
        cert = peer_certificate(connection.sock)
        if identity(cert) != expect:
            raise CertificateError(f"{address} presented {identity(cert)}, expected {expect}")
        data = json.dumps(body).encode()
        connection.request("POST", path, body=data, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        payload = json.loads(response.read() or b"{}")
    except (OSError, http.client.HTTPException, json.JSONDecodeError) as exc:
        raise PeerError(f"{expect[0]} at {address}: {exc.__class__.__name__}: {exc}") from None
    finally:
        connection.close()
    if response.status != 200:
        raise PeerError(f"{expect[0]} refused: {payload.get('error', response.status)}")
    return payload
