"""synthgen dashboard entry point: ``streamlit run app/ui/streamlit_app.py``.

The list of pages is chosen from the signed-in actor's role (re-read on every rerun), but a page
list is navigation, not authorization: every page calls the service layer, which authorizes
each call again and refuses (and audits) anything the role may not do.
"""

from __future__ import annotations

import sys
from pathlib import Path

_REPO = Path(__file__).resolve().parents[2]
if str(_REPO) not in sys.path:  # `streamlit run` puts only app/ui on sys.path
    sys.path.insert(0, str(_REPO))

import streamlit as st  # noqa: E402

from app.ui import state  # noqa: E402
from app.ui.app_pages import PAGES, pages_for_role  # noqa: E402

st.set_page_config(page_title="synthgen", page_icon=":material/shield:", layout="wide")

# Streamlit draws captions and metric labels at 60 % opacity of the text colour: 3.9:1 on white,
# under the 4.5:1 that WCAG AA asks of small text. This grey measures 8.4:1 on white and 7.5:1 on
# the sidebar grey.
CAPTION_STYLE = ("<style>[data-testid='stCaptionContainer'], [data-testid='stCaptionContainer'] p, "
                 "[data-testid='stMetricLabel'] p, [data-testid='stWidgetLabel'] small "
                 "{color: #4a4d57 !important; opacity: 1 !important;}</style>")
st.html(CAPTION_STYLE)


def _oidc_return(oidc) -> None:
    """Back from the provider: open a platform session from the identity Streamlit verified.
    Tried once per identity and browser session (a rerun must not audit another attempt)."""
    identity = state.oidc_identity()
    if identity is None:
        return
    attempt = (identity.issuer, identity.subject, identity.authenticated_at)
    if st.session_state.get("oidc_attempt") == attempt:
        return
    if not state.oidc_is_recent(identity, oidc):
        return  # an old identity cookie: the person signs in with the provider again
    st.session_state["oidc_attempt"] = attempt
    try:
        state.login_oidc(identity)
    except state.SynthgenError as exc:
        if getattr(exc, "reason", None) == "signed_out_identity":
            # the identity cookie outlived a logout (its clearing redirect was interrupted):
            # the service refused it, so clear it now instead of showing an error
            state.forget_oidc_identity()
            return
        st.session_state["oidc_refusal"] = (str(exc), identity.issuer, identity.subject, identity.label)
        return
    st.session_state.pop("oidc_refusal", None)
    st.rerun()


def login_page() -> None:
    state.forget_session_cookie()  # on the sign-in page any remembered session has ended
    st.title("synthgen")
    st.caption("Differentially-private synthetic data releases, with review and audit.")
    notice = st.session_state.pop("login_notice", None)
    if notice:
        st.info(notice)
    try:
        oidc = state.oidc_settings()
    except state.SynthgenError as exc:  # half-configured SYNTHGEN_OIDC_* variables
        oidc = None
        st.warning(f"Sign-in with an identity provider is not available: {exc}")
    if oidc is not None:
        _oidc_return(oidc)
        refusal = st.session_state.get("oidc_refusal")
        if refusal:
            message, issuer, subject, label = refusal
            st.error(f"Signed in with {oidc.provider_name} as {label}, but {message}.")
            st.caption(f"Give your administrator these two values to link your account: issuer `{issuer}` · "
                       f"subject `{subject}`")
    col, col2 = st.columns([1, 1])
    with col:
        with st.form("login", border=True):
            st.subheader("Sign in")
            username = st.text_input("User name", key="login_username")
            password = st.text_input("Password", type="password", key="login_password")
            submitted = st.form_submit_button("Sign in", type="primary")
        if submitted:
            try:
                state.login(username.strip(), password)
            except state.SynthgenError as exc:
                st.error(str(exc))
            else:
                st.rerun()
        if state.demo_mode():
            st.caption("Demo: the launcher printed the demo logins (alice: data owner, oscar: privacy officer, "
                       "mia: ML engineer).")
    if oidc is not None:
        with col2, st.container(border=True):
            st.subheader("Single sign-on")
            st.caption(f"Use your {oidc.provider_name} account. An administrator must have linked it to a "
                       "synthgen account first.")
            if st.button(f"Sign in with {oidc.provider_name}", key="oidc_login", icon=":material/key:"):
                try:
                    state.start_oidc_login()
                except Exception as exc:  # noqa: BLE001 - Streamlit's auth errors (missing secrets file)
                    st.error("Sign-in with the identity provider is not available: the dashboard was not started "
                             f"with its [auth] settings ({type(exc).__name__}). Start it with `make run`.")


actor = state.current_actor()
if actor is None:
    nav = st.navigation([st.Page(login_page, title="Sign in", icon=":material/login:", url_path="login")], position="hidden")
    nav.run()
else:
    state.remember_session()
    with st.sidebar:
        st.markdown(f"**{actor.username}**")
        st.caption(f"Role: {state.ROLE_LABELS.get(actor.role, actor.role)}")
        if st.button("Log out", key="logout", icon=":material/logout:"):
            if state.logout():
                st.stop()  # the browser is redirected through /auth/logout (see state.logout)
            st.rerun()
    pages = [st.Page(str(Path(__file__).parent / "app_pages" / f"{name}.py"), title=PAGES[name][0],
                     icon=PAGES[name][1], url_path=name) for name in pages_for_role(actor.role)]

    def home() -> None:
        # Streamlit serves its default page at "/"; a hidden default that forwards to the role's
        # first page gives every real page its own URL (/datasets, /review?release=3, ...), so a
        # link or a reload lands where the person was.
        st.switch_page(pages[0])

    st.navigation([st.Page(home, title="Home", url_path="home", default=True, visibility="hidden"), *pages]).run()
