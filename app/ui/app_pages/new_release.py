"""New release: choose a synthesizer, spend budget knowingly, start the job and watch it."""

import json

import streamlit as st

from app.ui import state
from app.ui.components.budget import budget_meter
from app.ui.components.card import STATE_LABEL
from app.ui.components.progress import release_progress
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
    default = st.session_state.get("selected_dataset")
    ds_id = st.selectbox("Dataset", ids, index=ids.index(default) if default in ids else 0,
                         format_func=lambda i: next(f"{d.name} (#{d.id})" for d in ready if d.id == i), key="rel_dataset")
    ds = next(d for d in ready if d.id == ds_id)
    schema = json.loads(ds.schema_json)
    col_names = [c["name"] for c in schema.get("columns", []) if c.get("role") != "identifier"]

    synth = st.radio("Synthesizer", list(SYNTHS), format_func=lambda name: SYNTHS[name].description, key="rel_synth")
    dp = SYNTHS[synth].dp
    eps = None
    if dp:
        remaining = ds.budget.epsilon("remaining")
        eps = st.number_input("ε to spend on this release", min_value=0.01, max_value=SYNTHS[synth].max_epsilon,
                              value=float(min(1.0, max(0.01, round(remaining, 2)))), step=0.25, key="rel_eps")
        st.markdown(
            f"**What ε = {eps:g} at δ = {ds.delta:.0e} means:** whatever anyone does with the synthetic table, "
            f"they can learn at most a factor e^ε ≈ {2.718281828 ** eps:.2f} more about any one person than if that "
            f"person's row had never been in the data (except with probability δ). Smaller ε = stronger protection, "
            "noisier data. ε ≤ 1 is strong; ε around 1–5 is common for releases; above 10 is weak.")
        budget_meter(ds.budget, pending_epsilon=float(eps))
    else:
        st.warning("**No formal privacy.** A baseline synthesizer can memorize and reproduce real rows; it spends no "
                   "budget but gives no guarantee. It can only be approved with a written override, and only if "
                   "the policy allows overrides.", icon=":material/warning:")

    c1, c2 = st.columns(2)
    rows = c1.number_input("Rows to generate (0 = the differentially private estimate of the table size)", min_value=0, max_value=1_000_000,
                           value=0, step=1000, key="rel_rows")
    target = c2.selectbox("Evaluation target column (for the ML-utility test)", [None, *col_names],
                          format_func=lambda c: "— none —" if c is None else c, key="rel_target")
    allow_override = st.checkbox("Policy: allow a privacy officer to approve despite a failed or inconclusive gate "
                                 "(with a written reason)", value=not dp, key="rel_override")
    if st.button("Start release", type="primary", key="rel_start"):
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
mine = [r for r in (state.call(platform.list_releases, actor) or []) if r.requester == actor.username][-10:]
if not mine:
    st.caption("None yet.")
else:
    st.dataframe([{"Release": r.id, "Dataset": r.dataset_name, "Synthesizer": r.synthesizer,
                   "Privacy": state.fmt_eps(r.epsilon, r.delta), "State": STATE_LABEL.get(r.state, r.state),
                   "Verdict": r.verdict or "—", "Progress": f"{(r.job.progress if r.job else 0):.0%}"}
                  for r in reversed(mine)], hide_index=True, width="stretch")
    failed = [r.id for r in mine if r.state == "failed"]
    if failed:
        rid = st.selectbox("Retry a failed release", failed, key="retry_select")
        if st.button("Retry", key="retry_btn"):
            rel = state.call(platform.retry_release, actor, int(rid))
            if rel is not None:
                st.session_state[watch_key] = rel.id
                st.rerun()
