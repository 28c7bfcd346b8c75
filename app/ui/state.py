"""Per-session state of the dashboard: who is signed in, and the shared Platform.

Rules (the dashboard is multi-user; Streamlit caches are shared by every session):

* The only thing cached across sessions is the :class:`~app.core.services.Platform` object
  (``st.cache_resource``). It holds an engine, the master key and the audit key, but **no private
  data and nothing per user**; every one of its methods re-reads and re-authorizes the actor.
  It is keyed by the settings (data dir, database URL, key dir), so tests with different data
  directories never share one.
* ``st.cache_data`` is never used: a cached table, schema draft, card or list would be served to
  whichever user asks next.
* The session token lives in ``st.session_state`` (one browser session). On *every* rerun the
  page calls :func:`current_actor`, which asks ``platform.actor_for_session(token)``: a disabled
  account, an ended session or a role change applies on the very next interaction.
* A reload of the browser tab starts a new Streamlit session. So that a reload does not sign the
  person out, the session token is also kept in an ``HttpOnly; SameSite=Strict`` cookie (``Secure``
  under TLS) that the server sets and clears (:mod:`app.ui.session_cookie`; asked for by
  :func:`remember_session`, read back by :func:`current_actor`, cleared at logout): no script in
  the page can read it. The cookie holds only the opaque token, which the service re-checks on
  every rerun (expiry, logout, disabled account), exactly like the in-memory copy.
* Anything per-user kept between reruns (a schema draft being edited, a freshly created API
  token shown once) lives in ``st.session_state`` under keys prefixed ``u:``, which
  :func:`logout` clears.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Any, Callable, TypeVar

import streamlit as st

from app.core.config import OidcSettings, Settings
from app.core.oidc import OidcIdentity, identity_from_claims, is_recent
from app.core.services import Actor, AuthenticationError, Platform
from app.ui import session_cookie
from synthgen.errors import SynthgenError

TOKEN_KEY = "session_token"
COOKIE = session_cookie.COOKIE
_COOKIE_SET_KEY = "session_cookie_for"  # the token this browser session last put in the cookie ("" cleared)
_COOKIE_CODE_KEY = "session_cookie_code"  # (token, one-time code) handed to the browser
_ENDED_KEY = "ended_session_tokens"
USER_PREFIX = "u:"
T = TypeVar("T")

ROLE_LABELS = {
    "admin": "Administrator",
    "data_owner": "Data owner",
    "privacy_officer": "Privacy officer",
    "ml_engineer": "ML engineer",
}


@st.cache_resource(show_spinner=False)
def _platform_for(data_dir: str, database_url: str, key_dir: str) -> Platform:
    # Shared across sessions on purpose: the Platform holds no private or per-user data.
    return Platform.open(Settings.from_env())


def platform() -> Platform:
    """The process-wide Platform for the current environment's settings."""
    s = Settings.from_env()
    return _platform_for(str(s.data_dir), s.database_url, str(s.key_dir))


def _cookie_token() -> str | None:
    try:
        value = st.context.cookies.get(COOKIE)
    except Exception:  # noqa: BLE001 - no browser context (AppTest): no cookie
        return None
    if not isinstance(value, str) or not value or value in st.session_state.get(_ENDED_KEY, ()):
        return None  # a token this browser session signed out keeps nobody signed in
    return value


def remember_session() -> None:
    """Keep the signed-in token in an HttpOnly cookie so a reload stays signed in: the page
    hands a one-time code to the same-origin endpoint of :mod:`app.ui.session_cookie`, which sets
    the cookie; the token itself never reaches the page's scripts."""
    tok = st.session_state.get(TOKEN_KEY)
    try:
        current = st.context.cookies.get(COOKIE)
    except Exception:  # noqa: BLE001 - AppTest has no browser
        return
    if not (isinstance(tok, str) and tok) or current == tok:
        return
    # st.context.cookies is what the browser sent when this session connected, so it stays stale
    # until a reload: the code's state says whether the browser exchanged it. Until it has, every
    # rerun hands the same code again (a rerun such as st.switch_page can drop the element
    # before the browser ran it).
    mine, code = st.session_state.get(_COOKIE_CODE_KEY) or (None, None)
    if mine == tok and code is not None:
        status = session_cookie.state_of(code)
        if status == "redeemed":
            return
        if status == "gone":
            code = None
    if mine != tok or code is None:
        code = session_cookie.issue_code(tok)
        st.session_state[_COOKIE_CODE_KEY] = (tok, code)
    st.html(session_cookie.exchange_script(code), unsafe_allow_javascript=True)
    st.session_state[_COOKIE_SET_KEY] = tok


def forget_session_cookie() -> None:
    """Clear the cookie (on the sign-in page, after logout or when its session ended)."""
    try:
        present = st.context.cookies.get(COOKIE)
    except Exception:  # noqa: BLE001
        return
    was_set = st.session_state.get(_COOKIE_SET_KEY) not in (None, "")
    if (isinstance(present, str) and present and st.session_state.get(_COOKIE_SET_KEY) != "") or was_set:
        st.html(session_cookie.clear_script(), unsafe_allow_javascript=True)
        st.session_state[_COOKIE_SET_KEY] = ""  # cleared (until the next sign-in)


def current_actor() -> Actor | None:
    """Re-resolve the session token (every rerun). None when not signed in or the session ended.
    A new browser session (a reload) picks the token up from the session cookie."""
    token = st.session_state.get(TOKEN_KEY)
    if not token:
        token = _cookie_token()
        if not token:
            return None
        try:
            actor = platform().actor_for_session(token)
        except AuthenticationError:
            st.session_state.setdefault(_ENDED_KEY, set()).add(token)
            return None
        st.session_state[TOKEN_KEY] = token
        return actor
    try:
        return platform().actor_for_session(token)
    except AuthenticationError as exc:
        _clear_user_state()
        st.session_state["login_notice"] = f"You were signed out: {exc}."
        return None


def require_actor() -> Actor:
    """For page scripts: the signed-in actor, or stop the page."""
    actor = current_actor()
    if actor is None:
        st.warning("Please sign in.")
        st.stop()
    return actor


def token() -> str | None:
    return st.session_state.get(TOKEN_KEY)


def _client_address() -> str:
    """The browser's address as Streamlit sees it (sign-in throttling per address)."""
    try:
        return str(st.context.ip_address or "dashboard")
    except Exception:  # noqa: BLE001 - AppTest and older Streamlit have no client address
        return "dashboard"


def login(username: str, password: str) -> Actor:
    info = platform().login(username, password, source=_client_address())
    _clear_user_state()
    st.session_state[TOKEN_KEY] = info.token
    return info.actor


def logout() -> bool:
    """End the platform session; True when the browser is being redirected to clear Streamlit's
    identity cookie, in which case the caller must not st.rerun(): a rerun empties the
    message queue and drops the redirect before it reaches the browser (measured: the cookie
    survived about one logout in three), so call st.stop() instead."""
    tok = st.session_state.get(TOKEN_KEY)
    if tok:
        st.session_state.setdefault(_ENDED_KEY, set()).add(tok)
        try:
            platform().logout(tok)
        except SynthgenError:
            pass
    _clear_user_state()
    if oidc_identity() is not None:
        forget_oidc_identity()  # the browser reloads the app
        return True
    return False


# -- OpenID Connect (Streamlit's st.login; see app.core.oidc) --------------------------------


def oidc_settings() -> OidcSettings | None:
    """The dashboard's OIDC client settings, or None when OIDC sign-in is not configured."""
    return Settings.from_env().oidc


def oidc_identity() -> OidcIdentity | None:
    """The identity in Streamlit's identity cookie (ID-token claims verified by Authlib), if any."""
    try:
        claims = st.user.to_dict()
    except Exception:  # noqa: BLE001 - no auth configured / no script context: no identity
        return None
    if not claims.get("is_logged_in"):
        return None
    return identity_from_claims(claims)


def oidc_is_recent(identity: OidcIdentity, settings: OidcSettings) -> bool:
    return is_recent(identity.authenticated_at, datetime.now(timezone.utc), settings.max_age)


def forget_oidc_identity() -> None:
    """Drop Streamlit's identity cookie (st.logout redirects the browser through /auth/logout)."""
    st.logout()


def start_oidc_login() -> None:
    """Send the browser to the provider (st.login); it comes back through /oauth2callback."""
    st.login()


def login_oidc(identity: OidcIdentity) -> Actor:
    """Open a platform session for the provider identity (the service refuses unlinked,
    disabled and stale identities, and audits every attempt)."""
    info = platform().login_oidc(identity.issuer, identity.subject, authenticated_at=identity.authenticated_at)
    _clear_user_state()
    st.session_state[TOKEN_KEY] = info.token
    return info.actor


def _clear_user_state() -> None:
    for key in list(st.session_state.keys()):
        if key == TOKEN_KEY or str(key).startswith(USER_PREFIX):
            del st.session_state[key]


def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """Run one service call; show a SynthgenError as a plain message (never a traceback)."""
    try:
        return fn(*args, **kwargs)
    except SynthgenError as exc:
        st.error(str(exc))
        return None


def selected_dataset() -> int | None:
    """The dataset the person is looking at: ``?dataset=ID`` in the page URL (so a link or a
    reload keeps it), else the last one chosen in this session."""
    raw = st.query_params.get("dataset")
    if raw is not None and str(raw).isdigit():
        return int(raw)
    value = st.session_state.get("selected_dataset")
    return int(value) if isinstance(value, int) else None


def select_dataset(dataset_id: int) -> None:
    st.session_state["selected_dataset"] = int(dataset_id)
    if st.query_params.get("dataset") != str(dataset_id):
        st.query_params["dataset"] = str(dataset_id)


def selected_release() -> int | None:
    raw = st.query_params.get("release")
    return int(raw) if raw is not None and str(raw).isdigit() else None


def select_release(release_id: int) -> None:
    if st.query_params.get("release") != str(release_id):
        st.query_params["release"] = str(release_id)


def user_key(*parts: Any) -> str:
    """A session_state key for per-user data (cleared at logout)."""
    return USER_PREFIX + ":".join(str(p) for p in parts)


def fmt_eps(eps: float | None, delta: float | None) -> str:
    if eps is None:
        return "no formal privacy (not differentially private)"
    return f"ε = {eps:.3g} at δ = {delta:.0e}"


def demo_mode() -> bool:
    return os.environ.get("SYNTHGEN_DEMO", "") == "1"


def call_at(slot: Any, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """Like :func:`call`, with the refusal shown in ``slot`` (a container placed next to the
    control that caused it, full width, never collapsed)."""
    try:
        return fn(*args, **kwargs)
    except SynthgenError as exc:
        slot.error(str(exc), icon=":material/block:")
        return None


def flash(message: str) -> None:
    """A success message shown once, at the top of the next run of the page (survives st.rerun)."""
    st.session_state[user_key("flash")] = message


def show_flash() -> None:
    message = st.session_state.pop(user_key("flash"), None)
    if message:
        st.success(message)


def attempt(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
    """Like :func:`call` for calls that return nothing: True on success."""
    try:
        fn(*args, **kwargs)
        return True
    except SynthgenError as exc:
        st.error(str(exc))
        return False
