"""Admin: users and roles, dataset memberships, API tokens, key rotation."""

import streamlit as st

from app.ui import state

actor = state.require_actor()
platform = state.platform()

st.title("Administration")
tab_users, tab_members, tab_tokens, tab_keys = st.tabs(["Users", "Dataset memberships", "API tokens", "Keys"])
ROLES = list(state.ROLE_LABELS)

with tab_users:
    users = state.call(platform.list_users, actor) or []
    st.dataframe([{"id": u.id, "User": u.username, "Role": state.ROLE_LABELS.get(u.role, u.role),
                   "Status": "disabled" if u.disabled else "active", "Created": f"{u.created_at:%Y-%m-%d}",
                   "Sign-in": "OIDC" if u.oidc_issuer else "password"} for u in users], hide_index=True, width="stretch")
    with st.form("create_user", clear_on_submit=True):
        st.markdown("**Add a user**")
        c1, c2, c3 = st.columns(3)
        name = c1.text_input("User name")
        # no default role: a slip of the Enter key must not create another administrator
        role = c2.selectbox("Role", ROLES, index=None, placeholder="Choose a role", format_func=state.ROLE_LABELS.get)
        pw = c3.text_input("Password (empty: generate one)", type="password")
        if st.form_submit_button("Create user"):
            info = None
            if role is None:
                st.error("Choose the new user's role first.", icon=":material/block:")
            else:
                info = state.call(platform.create_user, actor, name.strip(), pw or None, role)
            if info is not None:
                # rerun so every list on the page has the new user; the generated password is
                # kept for exactly the next run (per user session) and then dropped
                state.flash(f"Created {info.username} ({state.ROLE_LABELS[info.role]}).")
                st.session_state[state.user_key("new_password")] = info.generated_password
                st.rerun()
    state.show_flash()
    generated = st.session_state.pop(state.user_key("new_password"), None)
    if generated:
        st.info("Generated password (shown once; hand it over securely):")
        st.code(generated, language=None)
    if users:
        st.markdown("**Change a user**")
        # no default user: the first entry is the administrator's own account
        uid = st.selectbox("User", [u.id for u in users], key="admin_user", index=None, placeholder="Choose a user",
                           format_func=lambda i: next(f"{u.username} ({state.ROLE_LABELS.get(u.role, u.role)})"
                                                      for u in users if u.id == i))
    if users and uid is not None:
        u = next(x for x in users if x.id == uid)
        c1, c2, c3 = st.columns([2, 1, 1])
        new_role = c1.selectbox("New role", ROLES, index=ROLES.index(u.role), format_func=state.ROLE_LABELS.get,
                                key=f"admin_role_{u.id}")
        if c2.button("Set role", key=f"admin_setrole_{u.id}"):
            if state.call(platform.set_role, actor, u.id, new_role) is not None:
                state.flash(f"{u.username} is now {state.ROLE_LABELS[new_role]}.")
                st.rerun()
        if u.disabled:
            if c3.button("Enable", key=f"admin_enable_{u.id}"):
                if state.call(platform.enable_user, actor, u.id) is not None:
                    st.rerun()
        elif c3.button("Disable", key=f"admin_disable_{u.id}"):
            if state.call(platform.disable_user, actor, u.id) is not None:
                st.rerun()

        st.markdown("**Single sign-on (OpenID Connect)**")
        if u.oidc_issuer:
            st.caption(f"{u.username} signs in with issuer `{u.oidc_issuer}`, subject `{u.oidc_subject}`.")
        else:
            st.caption(f"{u.username} has no identity-provider login linked. A person whose sign-in was refused "
                       "sees both values on the sign-in page; refused attempts are also in the audit log "
                       "(action login, outcome failed).")
        with st.form(f"oidc_link_{u.id}", clear_on_submit=True):
            c1, c2 = st.columns(2)
            issuer = c1.text_input("Issuer (iss)", placeholder="https://login.example.org/")
            subject = c2.text_input("Subject (sub)")
            if st.form_submit_button("Link this login to the user"):
                if state.call(platform.link_oidc_identity, actor, u.id, issuer.strip(), subject.strip()) is not None:
                    st.rerun()
        if u.oidc_issuer and st.button("Unlink the identity-provider login", key=f"admin_oidc_unlink_{u.id}"):
            if state.call(platform.unlink_oidc_identity, actor, u.id) is not None:
                st.rerun()

with tab_members:
    datasets = state.call(platform.list_datasets, actor) or []
    users = users if users else []
    if not datasets:
        st.info("No datasets.")
    else:
        st.dataframe([{"id": d.id, "Dataset": d.name, "Owner": d.owner, "Members": ", ".join(d.members)}
                      for d in datasets], hide_index=True, width="stretch")
        did = st.selectbox("Dataset", [d.id for d in datasets], key="admin_ds",
                           format_func=lambda i: next(f"{d.name} (#{d.id})" for d in datasets if d.id == i))
        ds = next(d for d in datasets if d.id == did)
        candidates = [u for u in users if u.username not in ds.members and u.role != "admin"]
        c1, c2 = st.columns(2)
        if candidates:
            add = c1.selectbox("Add member", [u.id for u in candidates], key="admin_add_member", index=None,
                               placeholder="Choose a user",
                               format_func=lambda i: next(f"{u.username} ({state.ROLE_LABELS[u.role]})"
                                                          for u in candidates if u.id == i))
            if c1.button("Add", key="admin_add_btn", disabled=add is None):
                if state.call(platform.add_member, actor, ds.id, int(add)) is not None:
                    st.rerun()
        # the owner must stay a member (the service refuses it): not offered for removal
        members = [u for u in users if u.username in ds.members and u.username != ds.owner]
        if members:
            rm = c2.selectbox("Remove member", [u.id for u in members], key="admin_rm_member", index=None,
                              placeholder="Choose a member",
                              format_func=lambda i: next(u.username for u in members if u.id == i))
            if c2.button("Remove", key="admin_rm_btn", disabled=rm is None):
                if state.call(platform.remove_member, actor, ds.id, int(rm)) is not None:
                    st.rerun()

with tab_tokens:
    tokens = state.call(platform.list_api_tokens, actor) or []
    if not tokens:
        st.info("No API tokens.")
    else:
        st.dataframe([{"id": t.id, "User": t.user, "Prefix": t.prefix, "Created": f"{t.created_at:%Y-%m-%d}",
                       "Expires": f"{t.expires_at:%Y-%m-%d}", "Revoked": "yes" if t.revoked else ""} for t in tokens],
                     hide_index=True, width="stretch")
        live = [t.id for t in tokens if not t.revoked]
        if live:
            tid = st.selectbox("Revoke token", live, key="admin_token", index=None, placeholder="Choose a token",
                               format_func=lambda i: next(f"{t.prefix}… ({t.user})" for t in tokens if t.id == i))
            if st.button("Revoke", key="admin_token_revoke", disabled=tid is None):
                if state.attempt(platform.revoke_api_token, actor, int(tid)):
                    st.rerun()

with tab_keys:
    st.write("Rotating the master key re-wraps every dataset's data key under a new master key. Data files are "
             "not re-encrypted; the old key stops being needed.")
    sure = st.checkbox("I understand: back up the new key file after rotation", key="rotate_confirm")
    if st.button("Rotate master key", key="rotate_btn", disabled=not sure):
        msg = state.call(platform.rotate_keys, actor)
        if msg:
            st.success(msg)
