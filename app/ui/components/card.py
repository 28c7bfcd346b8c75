"""Release card embed and evaluation summary tables."""

from __future__ import annotations

import base64
from typing import Any

import pandas as pd
import streamlit as st

VERDICT_ICON = {"pass": "PASS", "fail": "FAIL", "inconclusive": "INCONCLUSIVE", "info": "info"}
STATE_LABEL = {
    "draft": "queued", "running": "running", "failed": "failed", "evaluated": "waiting for review",
    "approved": "approved", "rejected": "rejected", "published": "published", "revoked": "revoked",
}


def embed_card(html: str, *, height: int = 700) -> None:
    """The card is self-contained HTML rendered by evaluation.card. It is embedded as a ``data:``
    URL, so the iframe gets an opaque origin: nothing in the card can reach the dashboard's
    origin (cookies, session, DOM), whatever text the card quotes from the data."""
    src = "data:text/html;charset=utf-8;base64," + base64.b64encode(html.encode("utf-8")).decode("ascii")
    st.iframe(src, height=height)


def verdict_label(verdict: str | None) -> str:
    return VERDICT_ICON.get(verdict or "", verdict or "—")


def _num(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def _threshold(t: Any) -> str:
    if isinstance(t, dict):
        op = {"<=": "≤", ">=": "≥", "<": "<", ">": ">"}.get(t.get("op"), t.get("op", ""))
        on = {"upper": "upper end of interval", "lower": "lower end of interval", "value": "value"}.get(
            t.get("on"), t.get("on", "value"))
        return f"{on} {op} {_num(t.get('value'))}"
    return _num(t)


def metrics_table(report: dict[str, Any]) -> None:
    """Risk scores with intervals and the gates (pass / fail / inconclusive)."""
    rows = []
    metrics = report.get("metrics", [])
    for m in metrics if isinstance(metrics, list) else []:
        if not isinstance(m, dict):
            continue
        interval = m.get("interval")
        rows.append({
            "Gate": verdict_label(m.get("verdict")),
            "Group": m.get("group", ""),
            "Metric": m.get("name", ""),
            "Value": _num(m.get("value")),
            "Interval": f"[{_num(interval[0])}, {_num(interval[1])}]" if interval else "—",
            "Threshold": _threshold(m.get("threshold")),
            "What it measures": m.get("description", ""),
        })
    if not rows:
        st.caption("The report has no metrics.")
        return
    frame = pd.DataFrame(rows)
    risk = frame[frame["Group"] == "risk"]
    util = frame[frame["Group"] != "risk"]
    if len(risk):
        st.markdown("**Privacy risk** (lower is better; interval = uncertainty of the attack estimate)")
        st.dataframe(risk.drop(columns=["Group"]), hide_index=True, width="stretch")
    if len(util):
        st.markdown("**Utility**")
        st.dataframe(util.drop(columns=["Group"]), hide_index=True, width="stretch")
