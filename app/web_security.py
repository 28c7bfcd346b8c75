"""HTTP hardening shared by the API and the dashboard: one pure ASGI middleware.

Pure ASGI (not Starlette's ``BaseHTTPMiddleware``) so that streamed downloads are never buffered.
It adds to every response:

* ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``, ``Referrer-Policy: no-referrer``
  and a ``Content-Security-Policy`` (``frame-ancestors 'none'`` at least: nobody frames us);
* ``Cache-Control: no-store`` unless the app set its own (downloads get ``private, no-store``:
  a synthetic table must not sit in a shared proxy or the browser's disk cache);
* under TLS, ``Strict-Transport-Security`` and the ``Secure`` flag on every cookie it sets.

It refuses cross-site state-changing requests (POST/PUT/PATCH/DELETE whose ``Sec-Fetch-Site`` or
``Origin`` says they come from another site): a browser that cached someone's HTTP Basic
credentials must not let another site's form mint an API token with them. Scripts send neither
header, so they are unaffected.

The ``Server`` header is uvicorn's and cannot be removed here: uvicorn is started with
``server_header=False`` (API: :func:`app.api.serve` and the launcher; dashboard: :mod:`app.ui.serve`).
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

#: The API returns JSON only; its HTML docs pages load scripts, so they get the dashboard's policy.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
#: Streamlit needs inline styles and scripts (release cards are srcdoc iframes with inline
#: Plotly) and its websocket; everything is served from the dashboard's own origin.
DASHBOARD_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval' blob:; "
                 "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; "
                 "connect-src 'self' ws: wss:; frame-src 'self' blob: data:; worker-src 'self' blob:; "
                 "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
HSTS = "max-age=31536000"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _is_download(path: str) -> bool:
    return path.endswith("/download")


class SecurityHeaders:
    """ASGI middleware: ``csp`` on every path except those starting with one of ``csp_exempt``."""

    def __init__(self, app, *, csp: str = API_CSP, csp_exempt: tuple[str, ...] = (), tls: bool | None = None):
        self.app = app
        self.csp = csp
        self.csp_exempt = csp_exempt
        self.tls = tls  # None: decide per request from the scheme (uvicorn sets "https" under TLS)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if scope.get("method", "GET") in UNSAFE_METHODS and _cross_site(scope):
            return await _refuse_cross_site(send)
        secure = self.tls if self.tls is not None else scope.get("scheme") == "https"
        path = scope.get("path", "")

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": self._headers(list(message.get("headers", [])), path, secure)}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _headers(self, headers: list[tuple[bytes, bytes]], path: str, secure: bool) -> list[tuple[bytes, bytes]]:
        names = {k.lower() for k, _ in headers}
        extra = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
                 (b"referrer-policy", b"no-referrer")]
        if not any(path.startswith(p) for p in self.csp_exempt):
            extra.append((b"content-security-policy", self.csp.encode()))
        extra.append((b"cache-control", b"private, no-store" if _is_download(path) else b"no-store"))
        if secure:
            extra.append((b"strict-transport-security", HSTS.encode()))
        headers += [(k, v) for k, v in extra if k not in names]
        if secure:
            headers = [(k, _secure_cookie(v)) if k.lower() == b"set-cookie" else (k, v) for k, v in headers]
        return [(k, v) for k, v in headers if k.lower() != b"server"]


def _secure_cookie(value: bytes) -> bytes:
    attributes = {a.strip().lower() for a in value.split(b";")[1:]}
    return value if b"secure" in attributes else value + b"; Secure"


def _header(scope, name: bytes) -> str | None:
    for k, v in scope.get("headers", []):
        if k.lower() == name:
            return v.decode("latin-1")
    return None


def _cross_site(scope) -> bool:
    """True when a browser tells us the request comes from another origin."""
    fetch_site = _header(scope, b"sec-fetch-site")
    if fetch_site is not None:
        return fetch_site.lower() not in ("same-origin", "none")
    origin = _header(scope, b"origin")
    if origin is None:
        return False  # not a browser's cross-origin request (scripts, curl)
    host = _header(scope, b"host") or ""
    return origin == "null" or urlsplit(origin).netloc.lower() != host.lower()


async def _refuse_cross_site(send) -> None:
    body = json.dumps({"error": {"code": "cross_site_refused",
                                 "message": "state-changing requests from another site are refused"}}).encode()
    await send({"type": "http.response.start", "status": 403,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"cache-control", b"no-store"), (b"x-content-type-options", b"nosniff")]})
    await send({"type": "http.response.body", "body": body})
