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


def budget_over_time(points: list[tuple[datetime, float]], total_epsilon: float, *,
                     since: datetime | None = None) -> None:
    """Spent ε (cumulative, at the dataset's δ) after each spend, against the lifetime budget.
    ``since``: the dataset's creation, drawn as the starting point at ε 0."""
    if not points:
        st.caption("Nothing spent yet: the chart of ε spent over time appears after the first spend.")
        return
    if since is not None and since < points[0][0]:
        points = [(since, 0.0), *points]
    frame = budget_history_frame(points, total_epsilon)
    top = max(total_epsilon, float(frame["ε spent"].max())) * 1.05
    spent = alt.Chart(frame).mark_line(interpolate="step-after", point=True, color="#1f4e79").encode(
        x=alt.X("When:T", title=None, axis=alt.Axis(format="%d %b %H:%M", labelAngle=0)),
        y=alt.Y("ε spent:Q", title="ε spent", scale=alt.Scale(domain=[0, top])),
        tooltip=[alt.Tooltip("When:T", format="%Y-%m-%d %H:%M:%S"), alt.Tooltip("ε spent:Q", format=".3g")])
    # the limit is a horizontal line on its own data (sharing the time axis would make it vertical)
    limit = alt.Chart(pd.DataFrame({"Lifetime budget": [total_epsilon]})).mark_rule(
        color="#c62828", strokeDash=[6, 4]).encode(y="Lifetime budget:Q")
    st.altair_chart((spent + limit).properties(height=220, title="ε spent over time (dashed red: lifetime budget)"),
                    width="stretch")


_CAP = 3.0  # beyond three times the limit the exact distance no longer matters to the reader


def _share(figure: float | None, bound: float, op: str) -> float | None:
    """How far a figure is toward its limit: 1 = on the limit, above 1 = beyond it (fails).
    For an upper limit (≤) that is figure / limit, for a lower limit (≥) limit / figure."""
    if figure is None:
        return None
    if op in ("<=", "<"):
        share = figure / bound if bound > 0 else (0.0 if figure <= 0 else _CAP)
    else:
        share = bound / figure if figure > 0 else _CAP
    return min(max(share, 0.0), _CAP)


def gate_frame(report: dict[str, Any]) -> pd.DataFrame:
    """One row per judged metric, every gate on one scale: its estimate (and 95 % interval) as a
    share of its limit. Metrics without a limit are informative only and not drawn."""
    rows = []
    metrics = report.get("metrics", [])
    for m in metrics if isinstance(metrics, list) else []:
        t = m.get("threshold") if isinstance(m, dict) else None
        if not isinstance(t, dict) or m.get("value") is None or not isinstance(t.get("value"), (int, float)):
            continue
        bound, op = float(t["value"]), str(t.get("op", "<="))
        interval = m.get("interval") or [None, None]
        ends = sorted(x for x in (_share(interval[0], bound, op), _share(interval[1], bound, op)) if x is not None)
        rows.append({"Gate": verdicts.label(str(m.get("name", "")))[0],
                     "Group": "Privacy risk" if m.get("group") == "risk" else "Utility",
                     "Share of limit": _share(float(m["value"]), bound, op),
                     "Low": ends[0] if len(ends) == 2 else None, "High": ends[1] if len(ends) == 2 else None,
                     "Estimate": float(m["value"]), "Limit": f"{'≤' if op in ('<=', '<') else '≥'} {bound:g}",
                     "Verdict": str(m.get("verdict") or "info")})
    return pd.DataFrame(rows, columns=["Gate", "Group", "Share of limit", "Low", "High", "Estimate", "Limit",
                                       "Verdict"])


def release_gates(report: dict[str, Any]) -> None:
    """The key chart of a release: every gate's estimate against its limit, on one scale."""
    frame = gate_frame(report)
    if frame.empty:
        st.caption("No gate with a limit to draw.")
        return
    y = alt.Y("Gate:N", title=None, sort=None, axis=alt.Axis(labelLimit=320, labelOverlap=False))
    base = alt.Chart(frame).encode(y=y)
    colour = alt.Color("Verdict:N", scale=_COLOURS, legend=alt.Legend(orient="bottom", title=None))
    chart = alt.layer(
        base.mark_rule(strokeWidth=3, opacity=0.6).encode(x="Low:Q", x2="High:Q", color=colour),
        base.mark_point(filled=True, size=90).encode(
            x=alt.X("Share of limit:Q", scale=alt.Scale(domain=[0, _CAP]),
                    title="estimate as a share of its limit (1 = on the limit; right of the line = beyond it)"),
            color=colour,
            tooltip=["Gate", "Group", alt.Tooltip("Estimate:Q", format=".3g"), "Limit", "Verdict"]),
        alt.Chart(pd.DataFrame({"x": [1.0]})).mark_rule(color="#202124", strokeDash=[5, 3]).encode(x="x:Q"),
    ).properties(height=alt.Step(26), title="Every gate against its limit (bar: 95 % interval)")
    st.altair_chart(chart, width="stretch")
