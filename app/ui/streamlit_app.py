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


def login_page() -> None:
    st.title("synthgen")
    st.caption("Differentially-private synthetic data releases, with review and audit.")
    notice = st.session_state.pop("login_notice", None)
    if notice:
        st.info(notice)
    col, _ = st.columns([1, 1])
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


actor = state.current_actor()
if actor is None:
    nav = st.navigation([st.Page(login_page, title="Sign in", icon=":material/login:", url_path="login")], position="hidden")
    nav.run()
else:
    with st.sidebar:
        st.markdown(f"**{actor.username}**")
        st.caption(f"Role: {state.ROLE_LABELS.get(actor.role, actor.role)}")
        if st.button("Log out", key="logout", icon=":material/logout:"):
            state.logout()
            st.rerun()
    pages = [st.Page(str(Path(__file__).parent / "app_pages" / f"{name}.py"), title=PAGES[name][0],
                     icon=PAGES[name][1], url_path=name) for name in pages_for_role(actor.role)]
    st.navigation(pages).run()
