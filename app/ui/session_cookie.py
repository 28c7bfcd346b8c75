"""The dashboard's session cookie, set and cleared by the server (HttpOnly), never by a script.

Sign-in happens over Streamlit's websocket, which cannot set cookies. So after a successful
sign-in the page script asks :func:`issue_code` for a one-time code (random, 60 s, single use)
standing for the session token, and the page runs a small same-origin ``fetch`` that POSTs the
code to ``/_synthgen/session``. :class:`SessionCookieEndpoint`, an ASGI middleware in front of
Streamlit's app (:mod:`app.ui.serve`), exchanges it for::

    Set-Cookie: synthgen_session=<token>; HttpOnly; SameSite=Strict; Path=/; Max-Age=43200 [; Secure]

``DELETE /_synthgen/session`` clears it (logout, an ended session). Streamlit reads the cookie
back from the websocket's request headers (``st.context.cookies``) after a reload.

Why this is safer than ``document.cookie``: a script injected into the page can no longer read
the token (HttpOnly), only the one-time code while it is unspent; a spent or expired code is
worth nothing. The endpoint sits inside :class:`app.web_security.SecurityHeaders`, which refuses
cross-site POST/DELETE, so another site can neither plant its own session in someone's browser
(login CSRF) nor sign them out. The code store is per process: the page script and this
middleware run in the same Streamlit server process.
"""

from __future__ import annotations

import secrets
import threading
import time

COOKIE = "synthgen_session"
PATH_SUFFIX = "/_synthgen/session"
CODE_TTL_SECONDS = 60.0
COOKIE_MAX_AGE = 12 * 3600
_MAX_PENDING = 10_000
_MAX_BODY = 256

_lock = threading.Lock()
_pending: dict[str, tuple[str, float]] = {}  # code -> (session token, expiry on the monotonic clock)
_redeemed: dict[str, None] = {}  # recently spent codes (insertion-ordered, bounded)


def issue_code(token: str, *, now: float | None = None) -> str:
    """A one-time code that the endpoint exchanges for an HttpOnly cookie holding ``token``."""
    now = time.monotonic() if now is None else now
    code = secrets.token_urlsafe(32)
    with _lock:
        if len(_pending) >= _MAX_PENDING:
            for key in [k for k, (_, exp) in _pending.items() if exp <= now]:
                del _pending[key]
            if len(_pending) >= _MAX_PENDING:  # a flood of sign-ins that never exchange: drop the oldest
                for key in list(_pending)[: _MAX_PENDING // 10]:
                    del _pending[key]
        _pending[code] = (token, now + CODE_TTL_SECONDS)
    return code


def redeem(code: str, *, now: float | None = None) -> str | None:
    """The token behind ``code`` (once; None when unknown, spent or expired)."""
    now = time.monotonic() if now is None else now
    with _lock:
        found = _pending.pop(code, None)
        if found is None or found[1] <= now:
            return None
        _redeemed[code] = None
        if len(_redeemed) > _MAX_PENDING:
            del _redeemed[next(iter(_redeemed))]
    return found[0]


def state_of(code: str, *, now: float | None = None) -> str:
    """``pending`` (not yet exchanged, still valid), ``redeemed`` or ``gone`` (expired/unknown)."""
    now = time.monotonic() if now is None else now
    with _lock:
        if code in _redeemed:
            return "redeemed"
        found = _pending.get(code)
        return "pending" if found is not None and found[1] > now else "gone"


def set_cookie_header(token: str, *, secure: bool) -> bytes:
    value = f"{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={COOKIE_MAX_AGE}"
    return (value + ("; Secure" if secure else "")).encode()


def clear_cookie_header(*, secure: bool) -> bytes:
    value = f"{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"
    return (value + ("; Secure" if secure else "")).encode()


def exchange_script(code: str) -> str:
    """The page's part: POST the code to the endpoint (same origin, no token in the page)."""
    import json

    return ("<script>fetch(" + json.dumps(PATH_SUFFIX) + ", {method: 'POST', credentials: 'same-origin', "
            "headers: {'Content-Type': 'text/plain'}, body: " + json.dumps(code) + "});</script>")


def clear_script() -> str:
    """The page's part of a logout: DELETE clears the cookie."""
    import json

    return "<script>fetch(" + json.dumps(PATH_SUFFIX) + ", {method: 'DELETE', credentials: 'same-origin'});</script>"


class SessionCookieEndpoint:
    """ASGI middleware answering ``POST``/``DELETE`` on a path ending in ``/_synthgen/session``;
    everything else goes to the wrapped app."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope.get("path", "").endswith(PATH_SUFFIX):
            await self.app(scope, receive, send)
            return
        secure = scope.get("scheme") == "https"
        method = scope.get("method", "GET")
        if method == "POST":
            body = await _read_body(receive)
            token = redeem(body.decode("ascii", "replace").strip()) if body is not None else None
            if token is None:
                await _respond(send, 400, b"the sign-in code is unknown, spent or expired; sign in again\n")
                return
            await _respond(send, 204, b"", [(b"set-cookie", set_cookie_header(token, secure=secure))])
        elif method == "DELETE":
            await _respond(send, 204, b"", [(b"set-cookie", clear_cookie_header(secure=secure))])
        else:
            await _respond(send, 405, b"POST a sign-in code or DELETE\n", [(b"allow", b"POST, DELETE")])


async def _read_body(receive) -> bytes | None:
    """The request body, or None when it is longer than a code can be."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > _MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _respond(send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    base = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store")]
    await send({"type": "http.response.start", "status": status, "headers": base + (headers or [])})
    await send({"type": "http.response.body", "body": body})
