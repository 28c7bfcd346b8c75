"""New release: choose a synthesizer, spend budget knowingly, start the job and watch it."""

import json

import streamlit as st

from app.core.classification import describe as classification_line
from app.ui import state
from app.ui.components.budget import budget_meter, preview_after_spend
from app.ui.components.progress import recent_releases, release_progress
from app.ui.components.top_k import pending_top_k
from app.core.services.schemas import top_k_not_chosen
from synthgen.synthesizers import registry

actor = state.require_actor()
platform = state.platform()

#: name -> facts (label, DP or not, ε cap): from the one registry the service also reads
SYNTHS = {f.name: f for f in registry.all_facts()}

st.title("New release")
watch_key = state.user_key("watch_release")

datasets = state.call(platform.list_datasets, actor) or []
ready = [d for d in datasets if d.schema_reviewed]
if not ready:
    st.info("No dataset is ready for a release: a dataset needs a reviewed schema first (see Datasets).")
else:
    ids = [d.id for d in ready]
    default = state.selected_dataset()
    ds_id = st.selectbox("Dataset", ids, index=ids.index(default) if default in ids else 0,
                         format_func=lambda i: next(f"{d.name} (#{d.id})" for d in ready if d.id == i), key="rel_dataset")
    state.select_dataset(ds_id)
    ds = next(d for d in ready if d.id == ds_id)
    st.markdown(f"**Classification:** {classification_line(ds.classification)}")
    schema = json.loads(ds.schema_json)
    col_names = [c["name"] for c in schema.get("columns", []) if c.get("role") != "identifier"]

    # preselected from the public schema's width alone (AIM where its time fits, else MST)
    synth = st.radio("Synthesizer", list(SYNTHS), index=list(SYNTHS).index(registry.default_for(len(col_names))),
                     format_func=lambda name: SYNTHS[name].description, key="rel_synth")
    st.caption(f"{SYNTHS[synth].short_name} {SYNTHS[synth].tradeoff}.")
    dp = SYNTHS[synth].dp
    eps = None
    eps_ok = True
    if dp:
        remaining = ds.budget.epsilon("remaining")
        # no min/max on the widget: Streamlit would silently keep the old value for ε = -1 (a red
        # border, no message); the preview below says what is wrong (the library's own limits,
        # up to the synthesizer's ε cap), next to the field
        eps = st.number_input("ε to spend on this release", value=float(min(1.0, max(0.01, round(remaining, 2)))),
                              step=0.25, key="rel_eps")
        st.markdown(
            f"**What ε = {eps:g} at δ = {ds.delta:.0e} means:** whatever anyone does with the synthetic table, "
            f"they can learn at most a factor e^ε ≈ {2.718281828 ** max(min(eps, 50), 0):.2f} more about any one "
            "person than if that person's row had never been in the data; δ is the small probability that this "
            "promise fails. Smaller ε = stronger protection, noisier data. ε ≤ 1 is strong; ε around 1–5 is common "
            "for releases; above 10 is weak.")
        budget_meter(ds.budget)
        eps_ok = preview_after_spend(ds.budget, float(eps))
    else:
        st.warning("**No formal privacy: evaluation only.** A baseline synthesizer can memorize and reproduce real "
                   "rows; it spends no budget but gives no guarantee, so its release can never be approved or "
                   "shared (that would void this dataset's ε guarantee). Use it to compare its card with the DP "
                   "releases'.", icon=":material/warning:")

    c1, c2 = st.columns(2)
    rows = c1.number_input("Rows to generate (0 = the differentially private estimate of the table size)",
                           min_value=0, max_value=1_000_000, value=0, step=1000, key="rel_rows")
    target = c2.selectbox("Target column (what ML teams will predict)", [None, *col_names],
                          format_func=lambda c: "— none —" if c is None else c, key="rel_target",
                          help="The evaluation trains a model on the synthetic table to predict it and tests it on "
                               "real rows. AIM also favours the relations that hold it. Naming a column spends no "
                               "budget.")
    if target is not None and synth == "aim":
        c2.caption(f"AIM will favour relations with **{target}**.")
    allow_override = st.checkbox("Policy: allow a privacy officer to approve despite a failed gate (with a written "
                                 "reason)", value=False, key="rel_override", disabled=not dp)
    if dp:
        st.markdown("**After the evaluation, a privacy officer other than you decides:**\n"
                    "- every gate passes → it can be approved;\n"
                    "- a gate is inconclusive (too uncertain to certify) → it can be approved with a written reason;\n"
                    "- a gate fails → "
                    + ("it can be approved with a written reason (allowed by the policy above), or rejected."
                       if allow_override else "it can only be rejected; its ε stays spent."))
    else:
        st.markdown("**After the evaluation** a privacy officer can only reject it: baselines are evaluation-only.")
    top_k_pending = [name for name, _k in pending_top_k(ds.schema_json)]
    if top_k_pending:  # the service refuses the request with the same words; say it before the click
        st.warning(top_k_not_chosen(ds.id, top_k_pending), icon=":material/filter_list:")
    if st.button("Start release", type="primary", key="rel_start", disabled=not eps_ok or bool(top_k_pending)):
        rel = state.call(platform.request_release, actor, ds.id, synthesizer=synth, epsilon=float(eps) if dp else None,
                         rows=int(rows) or None, target=target, policy={"allow_override": bool(allow_override)})
        if rel is not None:
            st.session_state[watch_key] = rel.id
            st.rerun()  # refresh the budget meter (the spend is now reserved)

watched = st.session_state.get(watch_key)
if watched:
    st.subheader("Progress")
    release_progress(int(watched))

st.subheader("Your recent releases")
recent_releases()
