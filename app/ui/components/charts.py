"""Charts people would rather look at than read: a dataset's budget spent over time, and a
release's gates (estimate, 95 % interval and limit per metric). Altair (Streamlit's own chart
library), built from values the page already shows in words, nothing more."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from app.ui.components import verdicts

_COLOURS = alt.Scale(domain=["pass", "inconclusive", "fail", "info"],
                     range=["#2e7d32", "#b26a00", "#c62828", "#5f6368"])


def budget_history_frame(points: list[tuple[datetime, float]], total_epsilon: float) -> pd.DataFrame:
    """Step data of spent ε over time (one row per change), plus the lifetime line."""
    rows = [{"When": at, "ε spent": eps} for at, eps in points]
    return pd.DataFrame(rows, columns=["When", "ε spent"]).assign(**{"Lifetime budget": total_epsilon})


def budget_over_time(points: list[tuple[datetime, float]], total_epsilon: float) -> None:
    """Spent ε (cumulative, at the dataset's δ) after each spend, against the lifetime budget."""
    if not points:
        st.caption("Nothing spent yet: the chart of ε spent over time appears after the first spend.")
        return
    frame = budget_history_frame(points, total_epsilon)
    base = alt.Chart(frame).encode(x=alt.X("When:T", title=None))
    spent = base.mark_line(interpolate="step-after", point=True, color="#1f4e79").encode(
        y=alt.Y("ε spent:Q", title="ε spent", scale=alt.Scale(domain=[0, max(total_epsilon, frame["ε spent"].max())])),
        tooltip=["When:T", alt.Tooltip("ε spent:Q", format=".3g")])
    limit = base.mark_rule(color="#c62828", strokeDash=[6, 4]).encode(y="Lifetime budget:Q")
    st.altair_chart((spent + limit).properties(height=220, title="ε spent over time (red: lifetime budget)"),
                    width="stretch")


def gate_frame(report: dict[str, Any]) -> pd.DataFrame:
    rows = []
    metrics = report.get("metrics", [])
    for m in metrics if isinstance(metrics, list) else []:
        if not isinstance(m, dict) or m.get("value") is None:
            continue
        t = m.get("threshold") if isinstance(m.get("threshold"), dict) else {}
        interval = m.get("interval") or [None, None]
        rows.append({"Metric": verdicts.label(str(m.get("name", "")))[0], "Group": str(m.get("group", "")),
                     "Estimate": float(m["value"]), "Low": interval[0], "High": interval[1],
                     "Limit": t.get("value"), "Verdict": str(m.get("verdict") or "info")})
    return pd.DataFrame(rows, columns=["Metric", "Group", "Estimate", "Low", "High", "Limit", "Verdict"])


def _gate_chart(frame: pd.DataFrame, title: str) -> alt.LayerChart:
    base = alt.Chart(frame).encode(y=alt.Y("Metric:N", title=None, sort=None))
    layers = [
        base.mark_rule(strokeWidth=2).encode(x="Low:Q", x2="High:Q", color=alt.Color("Verdict:N", scale=_COLOURS)),
        base.mark_point(filled=True, size=80).encode(
            x=alt.X("Estimate:Q", title="estimate (line: 95 % interval; tick: limit)"),
            color=alt.Color("Verdict:N", scale=_COLOURS),
            tooltip=["Metric", alt.Tooltip("Estimate:Q", format=".3g"), alt.Tooltip("Low:Q", format=".3g"),
                     alt.Tooltip("High:Q", format=".3g"), "Limit:Q", "Verdict"]),
        base.mark_tick(color="#202124", thickness=2, size=18).encode(x="Limit:Q"),
    ]
    return alt.layer(*layers).properties(height=max(90, 34 * len(frame)), title=title)


def release_gates(report: dict[str, Any]) -> None:
    """The key charts of a release: risk gates and utility gates, estimate against limit."""
    frame = gate_frame(report)
    if frame.empty:
        st.caption("No measured gate to draw.")
        return
    risk = frame[frame["Group"] == "risk"]
    util = frame[(frame["Group"] != "risk") & frame["Limit"].notna()]
    cols = st.columns(2)
    if len(risk):
        cols[0].altair_chart(_gate_chart(risk, "Privacy risk: estimate, interval, limit"), width="stretch")
    if len(util):
        cols[1].altair_chart(_gate_chart(util, "Utility: estimate against limit"), width="stretch")
