"""Live progress of release jobs: fragments that poll the service while a job runs, and rerun
the whole page once it finishes (so the budget meter and tables show the finished job without
a manual reload)."""

from __future__ import annotations

import streamlit as st

from app.core.decisions import decision_rule
from app.ui import state
from app.ui.components.card import STATE_LABEL, verdict_label

ACTIVE = ("draft", "running")


def outcome_message(rel) -> str:
    """What the requester reads once a release is evaluated: the verdict, which decision applies
    and who takes it (never "an officer can now review it" for a release that can only be rejected)."""
    rule = decision_rule(dp=rel.dp, verdict=rel.verdict, policy=rel.policy, federated=rel.federated)
    return (f"Release {rel.id} is evaluated: verdict {verdict_label(rel.verdict)} ({rule.reason}). "
            f"Next: {rule.next_step}.")


def _note_finish(release_id: int, current_state: str) -> None:
    """Rerun the whole page when a watched release leaves draft/running."""
    key = state.user_key("seen_state", release_id)
    before = st.session_state.get(key)
    st.session_state[key] = current_state
    if before in ACTIVE and current_state not in ACTIVE:
        st.rerun(scope="app")


def release_progress(release_id: int, *, every: float = 1.5) -> None:
    @st.fragment(run_every=every)
    def _poll() -> None:
        actor = state.current_actor()
        if actor is None:
            return
        rel = state.call(state.platform().get_release, actor, release_id)
        if rel is None:
            return
        job = rel.job
        frac = float(job.progress) if job else 0.0
        if rel.state not in ACTIVE:
            frac = 1.0
        msg = (job.message if job and job.message else rel.state)
        st.progress(min(max(frac, 0.0), 1.0), text=f"Release {rel.id}: {STATE_LABEL.get(rel.state, rel.state)} — {msg}")
        if rel.state == "failed":
            err = (job.error if job else None) or "the job failed"
            st.error(f"Release {rel.id} failed: {err}. Its reserved budget stays spent; you can retry it below.")
        elif rel.state == "evaluated":
            rule = decision_rule(dp=rel.dp, verdict=rel.verdict, policy=rel.policy, federated=rel.federated)
            (st.success if rule.kind == "approve" else st.warning)(outcome_message(rel))
        elif rel.state not in ACTIVE:
            st.info(f"Release {rel.id} is {STATE_LABEL.get(rel.state, rel.state)}.")
        _note_finish(rel.id, rel.state)

    _poll()


def recent_releases(*, every: float = 2.0) -> None:
    """The signed-in user's last ten requests, refreshed while any of them is running."""

    @st.fragment(run_every=every)
    def _table() -> None:
        actor = state.current_actor()
        if actor is None:
            return
        platform = state.platform()
        mine = [r for r in (state.call(platform.list_releases, actor) or []) if r.requester == actor.username][-10:]
        if not mine:
            st.caption("None yet.")
            return
        st.dataframe([{"Release": r.id, "Dataset": r.dataset_name, "Synthesizer": r.synthesizer,
                       "Privacy": state.fmt_eps(r.epsilon, r.delta), "State": STATE_LABEL.get(r.state, r.state),
                       "Verdict": verdict_label(r.verdict) if r.verdict else "—",
                       "Progress": f"{(1.0 if r.state not in ACTIVE else (r.job.progress if r.job else 0)):.0%}",
                       "Next step": (decision_rule(dp=r.dp, verdict=r.verdict, policy=r.policy, federated=r.federated).short
                                     if r.state == "evaluated" else
                                     "a second privacy officer decides" if r.state == "second_review" else "")}
                      for r in reversed(mine)], hide_index=True, width="stretch")
        for r in mine:
            _note_finish(r.id, r.state)
        failed = [r.id for r in mine if r.state == "failed"]
        if failed:
            rid = st.selectbox("Retry a failed release", failed, key="retry_select")
            if st.button("Retry", key="retry_btn"):
                rel = state.call(platform.retry_release, actor, int(rid))
                if rel is not None:
                    st.session_state[state.user_key("watch_release")] = rel.id
                    st.rerun(scope="app")

    _table()
