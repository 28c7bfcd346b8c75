"""Live progress of a release job (polls the service from a fragment)."""

from __future__ import annotations

import streamlit as st

from app.ui import state
from app.ui.components.card import STATE_LABEL

TERMINAL = ("failed", "evaluated", "approved", "rejected", "published", "revoked")


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
        msg = (job.message if job and job.message else rel.state)
        st.progress(min(max(frac, 0.0), 1.0), text=f"Release {rel.id}: {STATE_LABEL.get(rel.state, rel.state)} — {msg}")
        if rel.state == "failed":
            err = (job.error if job else None) or "the job failed"
            st.error(f"Release {rel.id} failed: {err}. Its reserved budget stays spent; you can retry it.")
        elif rel.state in TERMINAL:
            st.success(f"Release {rel.id} is evaluated (verdict: {rel.verdict}). A privacy officer can now review it.")

    _poll()
