"""My account: who I am, password change, my API tokens."""

from datetime import timedelta

import streamlit as st

from app.ui import state

actor = state.require_actor()
platform = state.platform()

st.title("My account")
st.write(f"Signed in as **{actor.username}** — {state.ROLE_LABELS.get(actor.role, actor.role)}.")

with st.expander("Change password"):
    with st.form("change_password", clear_on_submit=True):
        old = st.text_input("Current password", type="password")
        new = st.text_input("New password", type="password", help="At least 12 characters; a passphrase is best.")
        again = st.text_input("New password again", type="password")
        if st.form_submit_button("Change password"):
            if new != again:
                st.error("The two new passwords differ.")
            elif state.attempt(platform.change_password, actor, old, new):
                st.success("Password changed. Your other sessions were signed out.")

st.subheader("API tokens")
st.caption("For the HTTP API and scripts. A token acts as you, with your role; it is shown once.")
shown_key = state.user_key("new_token")
days = st.number_input("Valid for (days)", min_value=1, max_value=365, value=30, key="token_days")
if st.button("Create a token", key="token_create"):
    info = state.call(platform.create_api_token, actor, timedelta(days=int(days)))
    if info is not None:
        st.session_state[shown_key] = info.token
if st.session_state.get(shown_key):
    st.success("Copy this token now; it will not be shown again.")
    st.code(st.session_state.pop(shown_key), language=None)
tokens = state.call(platform.list_api_tokens, actor) or []
mine = [t for t in tokens if t.user == actor.username]
if mine:
    st.dataframe([{"id": t.id, "Prefix": t.prefix, "Created": f"{t.created_at:%Y-%m-%d}",
                   "Expires": f"{t.expires_at:%Y-%m-%d}", "Revoked": "yes" if t.revoked else ""} for t in mine],
                 hide_index=True, width="stretch")
    live = [t.id for t in mine if not t.revoked]
    if live:
        tid = st.selectbox("Token to revoke", live, key="token_revoke_select")
        if st.button("Revoke token", key="token_revoke"):
            if state.attempt(platform.revoke_api_token, actor, int(tid)):
                st.rerun()
