"""The dashboard's session cookie is set and cleared by the server: HttpOnly, SameSite=Strict,
Secure under TLS; a one-time code (never the token) is all the page's script handles; another
site cannot plant or clear it."""

from __future__ import annotations

import asyncio

from app.ui import session_cookie
from app.web_security import DASHBOARD_CSP, SecurityHeaders


async def _inner(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"streamlit"})


def request(method: str, body: bytes = b"", *, scheme: str = "http", headers=(), path="/_synthgen/session"):
    app = SecurityHeaders(session_cookie.SessionCookieEndpoint(_inner), csp=DASHBOARD_CSP)
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "scheme": scheme,
             "headers": [(b"host", b"127.0.0.1:8501"), *headers]}
    asyncio.run(app(scope, receive, send))
    start = sent[0]
    return start["status"], [(k.decode(), v.decode()) for k, v in start["headers"]]


def cookies(headers) -> list[str]:
    return [v for k, v in headers if k.lower() == "set-cookie"]


def test_a_code_becomes_an_httponly_strict_cookie_once():
    code = session_cookie.issue_code("tok-123")
    assert "tok-123" not in session_cookie.exchange_script(code)  # the page sees the code only
    status, headers = request("POST", code.encode(), headers=[(b"sec-fetch-site", b"same-origin")])
    assert status == 204
    [cookie] = cookies(headers)
    parts = [p.strip() for p in cookie.split(";")]
    assert parts[0] == "synthgen_session=tok-123"
    assert {"HttpOnly", "SameSite=Strict", "Path=/"} <= set(parts) and "Secure" not in parts
    assert session_cookie.state_of(code) == "redeemed"
    status, headers = request("POST", code.encode())  # spent: worth nothing
    assert status == 400 and cookies(headers) == []


def test_secure_under_tls_and_expired_codes_refused():
    code = session_cookie.issue_code("tok-tls")
    status, headers = request("POST", code.encode(), scheme="https")
    assert status == 204 and "Secure" in [p.strip() for p in cookies(headers)[0].split(";")]
    old = session_cookie.issue_code("tok-old", now=0.0)  # expired long ago on the monotonic clock
    assert session_cookie.state_of(old) == "gone"
    assert request("POST", old.encode())[0] == 400
    assert request("POST", b"x" * 1000)[0] == 400  # not a code


def test_delete_clears_and_other_paths_reach_streamlit():
    status, headers = request("DELETE")
    assert status == 204
    [cookie] = cookies(headers)
    assert cookie.startswith("synthgen_session=;") and "Max-Age=0" in cookie and "HttpOnly" in cookie
    assert request("GET")[0] == 405
    assert request("GET", path="/")[0] == 200


def test_another_site_can_neither_plant_nor_clear_the_cookie():
    code = session_cookie.issue_code("attacker-session")
    status, headers = request("POST", code.encode(), headers=[(b"sec-fetch-site", b"cross-site")])
    assert status == 403 and cookies(headers) == []
    assert session_cookie.state_of(code) == "pending"  # refused before the code was looked at
    status, headers = request("DELETE", headers=[(b"origin", b"https://evil.example")])
    assert status == 403 and cookies(headers) == []


def test_the_dashboard_server_installs_the_endpoint_behind_the_security_headers():
    from streamlit.web.server.starlette import starlette_app

    from app.ui.serve import harden_streamlit

    harden_streamlit()
    classes = [m.cls for m in starlette_app.create_streamlit_middleware()]
    assert classes[:2] == [SecurityHeaders, session_cookie.SessionCookieEndpoint]


def test_no_script_writes_the_token_into_document_cookie():
    import inspect

    from app.ui import state

    assert "document.cookie" not in inspect.getsource(state)
    assert "document.cookie" not in session_cookie.exchange_script("c") + session_cookie.clear_script()
