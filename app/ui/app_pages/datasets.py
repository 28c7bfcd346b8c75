"""Datasets: upload a table, review its schema, set the lifetime budget, delete it."""

import hashlib
import json

import streamlit as st

from app.ui import state
from app.ui.components.budget import budget_meter, preview_after_spend
from app.ui.components.charts import budget_over_time
from app.ui.components.schema_review import data_derived_values, describe
from app.ui.components.discovery import KINDS as DISCOVERY_KINDS
from app.ui.components.discovery import declarations_frame, declarations_from_frame
from app.ui.components.top_k import pending_top_k, top_k_control
from app.ui.components.card import md
from app.ui.components.federation import federation_panel
from app.ui.components.schema_editor import schema_editor, schema_to_frame
from app.core.classification import LABELS
from app.core.classification import describe as classification_line
from synthgen.budget import MAX_EPSILON

actor = state.require_actor()
platform = state.platform()
owner = actor.role == "data_owner"

st.title("Datasets")
state.show_flash()
datasets = state.call(platform.list_datasets, actor) or []

if owner:
    # Once the owner has used the upload form it stays open, so a refusal shown under it is never
    # folded away by the next rerun (the expander follows `expanded` when it changes).
    upload_open = state.user_key("upload_open")
    with st.expander(":material/upload: Upload a table", expanded=not datasets or st.session_state.get(upload_open, False)):
        with st.form("upload", clear_on_submit=False):
            up = st.file_uploader("Table (CSV or Parquet)", type=["csv", "parquet"], key="upload_file")
            name = st.text_input("Dataset name", key="upload_name",
                                 help="Unique on the platform (the API and CLI find datasets by name). Visible to the "
                                      "dataset's members and the privacy officers who review its releases.")
            label = st.selectbox("Classification", LABELS, index=None, key="upload_classification",
                                 placeholder="Choose the data's classification",
                                 format_func=classification_line,
                                 help="Sets the largest initial budget, how many privacy officers approve each release "
                                      "and how long a release stays published.")
            c1, c2 = st.columns(2)
            budget = c1.number_input("Lifetime privacy budget ε", min_value=0.01, max_value=MAX_EPSILON, value=10.0,
                                     step=0.5, key="upload_budget",
                                     help="The most ε that all releases of this table may ever spend together; at most the "
                                          "classification's maximum (a privacy officer approves more).")
            delta = c2.select_slider("δ (probability the guarantee fails)", options=[1e-9, 1e-8, 1e-7, 1e-6, 1e-5],
                                     value=1e-9, format_func=lambda d: f"{d:.0e}", key="upload_delta",
                                     help="Should be far below 1 / number of people in the table.")
            schema_file = st.file_uploader("Reviewed schema (optional, JSON)", type=["json"], key="upload_schema")
            go = st.form_submit_button("Upload", type="primary")
        if go:
            st.session_state[upload_open] = True
            # Refusals are shown in full right under the form (never collapsed inside a status box).
            if label is None:
                st.error("classification: choose the data's classification (public, internal, confidential or "
                         "restricted); it sets the largest budget and who approves its releases.",
                         icon=":material/block:")
            elif up is None:
                st.error("Choose a CSV or Parquet file first.", icon=":material/block:")
            else:
                with st.spinner(f"Uploading {up.name} ({up.size / 1e6:.1f} MB): validating, splitting and "
                                "encrypting the table…"):
                    schema_text = schema_file.getvalue().decode("utf-8", "replace") if schema_file else None
                    info = state.call_at(st, platform.upload_dataset, actor, up.name, up.getvalue(),
                                         name=name or up.name, budget_epsilon=float(budget), delta=float(delta),
                                         classification=label, schema_json=schema_text)
                if info is not None:
                    st.success(f"Dataset “{info.name}” uploaded: {len(info.columns)} columns stored encrypted; 30% "
                               "held out as a control set for the risk evaluation. Releases are reviewed by the "
                               "platform's privacy officers.")
                    state.select_dataset(info.id)
                    datasets = state.call(platform.list_datasets, actor) or []

if owner:
    with st.expander(":material/hub: Register a federated fit"):
        st.caption("A model file written by `synthgen federate fit`. No table comes with it: its schema comes from "
                   "the model, its budget is the fit's own ε (already charged at each site, recorded here as spent), "
                   "and its release is sampled from the model for a privacy officer to review.")
        with st.form("register_federated"):
            model_file = st.file_uploader("Federated model (.zip)", type=["zip"], key="federated_file")
            fed_name = st.text_input("Name of the federated dataset", key="federated_name")
            fed_label = st.selectbox("Classification of the federated data", LABELS, index=None,
                                     key="federated_classification",
                                     placeholder="Choose the data's classification", format_func=classification_line)
            fed_go = st.form_submit_button("Register", type="primary")
        if fed_go:
            if model_file is None:
                st.error("Choose the model file first.", icon=":material/block:")
            elif fed_label is None:
                st.error("classification: choose the data's classification (public, internal, confidential or "
                         "restricted).", icon=":material/block:")
            else:
                registered = state.call_at(st, platform.register_federated, actor, model_file.name,
                                           model_file.getvalue(), name=fed_name or model_file.name,
                                           classification=fed_label)
                if registered is not None:
                    st.success(f"Federated fit registered as “{registered.dataset_name}” with release "
                               f"#{registered.id}: a privacy officer reviews it.")
                    state.select_dataset(registered.dataset_id)
                    datasets = state.call(platform.list_datasets, actor) or []

if not datasets:
    st.info("No datasets yet." + (" Upload a table above to start." if owner else ""))
    st.stop()

rows = [{"id": d.id, "Name": d.name, "Classification": d.classification,
         "Kind": f"federated ({len(d.federation['sites'])} sites)" if d.federation else "table",
         "Owner": d.owner, "Columns": len(d.columns),
         "Schema": ("reviewed — top-k to choose" if pending_top_k(d.schema_json) else "reviewed") if d.schema_reviewed
         else ("draft — needs review" if d.schema_json else "missing"),
         "Remaining ε": round(d.budget.epsilon("remaining"), 3), "δ": f"{d.delta:.0e}",
         "Members": ", ".join(d.members)} for d in datasets]
st.dataframe(rows, hide_index=True, width="stretch")

ids = [d.id for d in datasets]
default = state.selected_dataset()
ds_id = st.selectbox("Dataset", ids, index=ids.index(default) if default in ids else 0,
                     format_func=lambda i: next(f"{d.name} (#{d.id})" for d in datasets if d.id == i),
                     key="dataset_select")
state.select_dataset(ds_id)
ds = next(d for d in datasets if d.id == ds_id)

st.subheader(f"{ds.name}")
st.markdown(f"**Classification:** {classification_line(ds.classification)}")
st.caption(f"Owner {ds.owner} · created {ds.created_at:%Y-%m-%d %H:%M} UTC · members: {', '.join(ds.members)}")

if ds.federation:
    federation_panel(ds.federation, release=False)

st.markdown("#### Privacy budget")
budget_meter(ds.budget)
history = state.call(platform.budget_history, actor, ds.id)
if history is not None:
    budget_over_time(history, ds.budget.epsilon("total"), since=ds.created_at)
if ds.budget.pending_raise is not None:
    st.info(f"A raise to ε {ds.budget.pending_raise.epsilon:g} is waiting for a privacy officer's approval.")
if owner and not ds.federation:  # a federated fit's budget is the fit's, spent at the sites
    with st.form(f"budget_{ds.id}"):
        new_total = st.number_input("Lifetime budget ε", min_value=0.01, max_value=MAX_EPSILON,
                                    value=float(round(ds.budget.epsilon("total"), 3)), step=0.5, key=f"budget_total_{ds.id}")
        if st.form_submit_button("Set budget"):
            if state.call(platform.set_budget, actor, ds.id, float(new_total)) is not None:
                st.rerun()

if owner and ds.federation:
    st.markdown("#### Schema")
    st.caption("The schema every site reviewed and accepted before the fit, from the model file. It cannot be "
               "edited here: there is no table on the platform to fit again.")
    st.json(ds.schema_json, expanded=False)
elif owner:
    st.markdown("#### Schema")
    st.caption("The schema is the public description of the table: the only knowledge about it that the synthesizer "
               "may use for free. Everything in it must come from public knowledge, not from the data.")
    draft_key = state.user_key("draft", ds.id)
    discovered_key = state.user_key("review_discovered", ds.id)
    draft_text = st.session_state.get(draft_key)  # per-session only, never a shared cache
    from_discovery = False
    if draft_text is not None:
        is_draft, working = True, draft_text
    elif ds.schema_draft_json and st.session_state.get(discovered_key):
        is_draft, working, from_discovery = True, ds.schema_draft_json, True
    elif ds.schema_json:
        is_draft = json.loads(ds.schema_json).get("derived_from_private_data", False)
        working = ds.schema_json
    else:
        working, is_draft = None, True
    if working is None:
        st.info("This dataset has no schema yet. Discover one with differential privacy (costs budget) or draft one "
                "from the data (free, but it reveals private values), then review every column.")
    c1, c2 = st.columns([1, 3])
    if c1.button("Draft a schema from the data", key=f"draft_btn_{ds.id}",
                 help="Reads the private table (audited). The draft is shown to you only."):
        draft = state.call(platform.draft_schema, actor, ds.id)
        if draft is not None:
            st.session_state[draft_key] = draft.schema_json
            st.session_state.pop(discovered_key, None)
            st.rerun()

    with st.expander(":material/auto_awesome: Discover the schema with differential privacy",
                     expanded=not ds.schema_json and not ds.schema_draft_json):
        st.caption("Categories are released by OpenDP's key thresholding (a value held by few people never appears) "
                   "and numeric bin cuts by DP quantiles inside the public bounds you declare. The spend is charged "
                   "to this dataset's budget like a release. Declare only public facts below.")
        decl = st.data_editor(declarations_frame(ds.columns, ds.schema_json), key=f"discover_decl_{ds.id}",
                              hide_index=True, width="stretch", disabled=["Column"],
                              column_config={"Kind": st.column_config.SelectboxColumn(options=list(DISCOVERY_KINDS),
                                                                                       required=True),
                                             "Lower": st.column_config.NumberColumn(help="public lower bound"),
                                             "Upper": st.column_config.NumberColumn(help="public upper bound"),
                                             "Integer": st.column_config.CheckboxColumn()})
        d1, d2 = st.columns(2)
        disc_eps = d1.number_input("ε to spend on discovery", min_value=0.01, max_value=10.0, value=0.5, step=0.1,
                                   key=f"discover_eps_{ds.id}")
        disc_bins = d2.number_input("Bins per numeric column", min_value=2, max_value=64, value=8,
                                    key=f"discover_bins_{ds.id}")
        affordable = preview_after_spend(ds.budget, float(disc_eps), spent_on="this discovery")
        if st.button(f"Discover schema with DP (costs ε {float(disc_eps):g})", key=f"discover_btn_{ds.id}",
                     disabled=not affordable, type="primary"):
            numeric, identifiers = declarations_from_frame(decl)
            with st.spinner("Releasing categories and bin cuts with differential privacy…"):
                info = state.call(platform.discover_schema, actor, ds.id, float(disc_eps), numeric=numeric,
                                  identifiers=identifiers, bins=int(disc_bins))
            if info is not None:
                st.session_state[discovered_key] = True
                st.session_state.pop(draft_key, None)
                st.rerun()

    def _review_top_k_draft():
        st.session_state[discovered_key] = True
        st.session_state.pop(draft_key, None)
        st.rerun()

    top_k_control(platform, actor, ds, on_done=_review_top_k_draft)

    if ds.schema_draft_json:
        st.info("A schema discovered with differential privacy is waiting for your review (its budget is spent).")
        b1, b2, _ = st.columns([1, 1, 2])
        if not from_discovery and b1.button("Review the discovered draft", key=f"review_discovered_{ds.id}"):
            st.session_state[discovered_key] = True
            st.session_state.pop(draft_key, None)
            st.rerun()
        if b2.button("Discard the discovered draft", key=f"discard_discovered_{ds.id}"):
            if state.call(platform.discard_schema_draft, actor, ds.id) is not None:
                st.session_state.pop(discovered_key, None)
                st.rerun()

    if working is not None:
        if from_discovery:
            st.caption("Editing the DP-discovered draft. Check every column's role and kind before saving.")
        # Where the values came from: a draft read off the table (this session's, or a stored
        # schema still flagged as derived from the data) marks every value it read.
        origin_text = draft_text if draft_text is not None else (
            working if not from_discovery and is_draft and ds.schema_json == working else None)
        origin = json.loads(origin_text) if origin_text else None
        edited, base = schema_editor(working, key=f"schema_editor_{ds.id}_{int(is_draft)}_{int(from_discovery)}",
                                     draft=is_draft, marks=data_derived_values(origin, json.loads(working)))
        from app.ui.components.schema_editor import frame_to_schema

        candidate = frame_to_schema(base, edited, reviewed=True)
        marks = data_derived_values(origin, json.loads(candidate))
        unchanged = not is_draft and json.loads(candidate) == json.loads(frame_to_schema(base, schema_to_frame(base),
                                                                                         reviewed=True))
        if marks:
            st.warning("**Values read off the data** (replace them with public knowledge, or confirm they are "
                       "public):\n" + "\n".join(f"- {md(line)}" for line in describe(marks)), icon=":material/lock:")
        # The tick belongs to exactly the schema on screen: its key changes with the schema and
        # with every edit, so it never carries over from an earlier schema or an earlier edit.
        tick_key = f"schema_reviewed_{ds.id}_{hashlib.sha256(candidate.encode()).hexdigest()[:16]}"
        reviewed = st.checkbox("I reviewed every column: categories, bounds and bins come from public knowledge",
                               value=False, key=tick_key, disabled=unchanged)
        confirm_key = state.user_key("schema_confirm", ds.id)
        # the private draft it started from, so the review record says what was changed
        private_draft = draft_text if (is_draft and not from_discovery) else None
        slot = st.container()
        if unchanged:
            st.caption("This is the reviewed schema in use. Edit a column to change it; any change needs a new review.")
        if st.button("Save schema", type="primary", key=f"schema_save_{ds.id}", disabled=unchanged):
            if reviewed and marks:
                st.session_state[confirm_key] = candidate
            else:
                text = frame_to_schema(base, edited, reviewed=reviewed)
                if state.call_at(slot, platform.update_schema, actor, ds.id, text, clear_draft=from_discovery,
                                 reviewed=reviewed, draft_json=private_draft) is not None:
                    st.session_state.pop(draft_key, None)
                    st.session_state.pop(discovered_key, None)
                    state.flash("Schema saved as reviewed: releases can use it." if reviewed else
                                "Schema saved as a draft: releases need a reviewed schema (tick the review box).")
                    st.rerun()
        if st.session_state.get(confirm_key) == candidate and reviewed:
            with st.container(border=True):
                st.markdown("**Confirm: these values were read off the private table.** Saving the schema as "
                            "reviewed declares each of them public knowledge (a documented code list or limit). "
                            "Anything in a reviewed schema is used for free, without privacy budget.")
                for line in describe(marks):
                    st.markdown(f"- {md(line)}")
                k1, k2, _ = st.columns([2, 1, 3])
                if k1.button("Yes, they are public: save as reviewed", type="primary", key=f"schema_confirm_{ds.id}"):
                    if state.call_at(slot, platform.update_schema, actor, ds.id, candidate,
                                     clear_draft=from_discovery, reviewed=True, draft_json=private_draft) is not None:
                        st.session_state.pop(confirm_key, None)
                        st.session_state.pop(draft_key, None)
                        st.session_state.pop(discovered_key, None)
                        state.flash("Schema saved as reviewed: releases can use it.")
                        st.rerun()
                if k2.button("Back to editing", key=f"schema_back_{ds.id}"):
                    st.session_state.pop(confirm_key, None)
                    st.rerun()

with st.expander(":material/delete: Delete this dataset"):
    st.warning("Deleting destroys the encryption key of the table (crypto-erasure): the data and every release "
               "made from it become unreadable, approved releases are revoked. The audit log is kept.")
    confirm = st.text_input(f"Type the dataset name ({ds.name}) to confirm", key=f"delete_confirm_{ds.id}")
    if st.button("Delete dataset", type="primary", key=f"delete_{ds.id}", disabled=confirm.strip() != ds.name):
        if state.attempt(platform.delete_dataset, actor, ds.id):
            st.session_state.pop("selected_dataset", None)
            st.session_state.pop(state.user_key("draft", ds.id), None)
            st.rerun()
