"""Release cards: a self-contained HTML page (plotly.js inline) and the same content as JSON.

Two audiences:

* ``full`` (privacy officer): every metric with value, interval and threshold, the worst
  marginals side by side, the association-difference heatmap, risk bars with their intervals and
  the ε/δ spent and remaining.
* ``ml`` (ML team): only the verdicts, the policy thresholds, the DP figures and facts about the
  synthetic table. No number computed on the real table appears (real-side statistics are
  themselves a disclosure), and no plot is drawn, so the page needs no plotly.js.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from evaluation.errors import EvaluationError
from evaluation.report import EvaluationReport

AUDIENCES = ("full", "ml")


@lru_cache(maxsize=1)
def _env() -> Environment:
    return Environment(loader=PackageLoader("evaluation", "templates"), autoescape=select_autoescape(["html"]))


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _threshold_text(t: dict | None) -> str:
    if not t:
        return "—"
    where = "" if t.get("on", "value") == "value" else f" ({t['on']} CI)"
    return f"{t['op']} {t['value']:g}{where}"


def _figures(report: EvaluationReport) -> list[str]:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    out = []
    as_html = lambda fig: fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False})
    risk = [m for m in report.metrics if m.group == "risk" and m.interval is not None and m.value is not None]
    if risk:
        fig = go.Figure(go.Bar(
            x=[m.name for m in risk], y=[m.value for m in risk],
            error_y=dict(type="data", symmetric=False,
                         array=[m.interval[1] - m.value for m in risk], arrayminus=[m.value - m.interval[0] for m in risk]),
            marker_color=["#b00020" if m.verdict == "fail" else "#9a6700" if m.verdict == "inconclusive" else "#176f2c" for m in risk],
        ))
        for m in risk:
            if m.threshold:
                fig.add_shape(type="line", xref="x", x0=risk.index(m) - 0.4, x1=risk.index(m) + 0.4, y0=m.threshold["value"], y1=m.threshold["value"], line=dict(dash="dash"))
        fig.update_layout(title="Privacy risks with 95 % intervals (dashed: policy threshold)", yaxis_range=[0, 1], height=400)
        out.append(as_html(fig))
    if report.privacy:
        p = report.privacy
        spent, remaining = p.get("epsilon"), p.get("remaining_epsilon")
        if spent is not None:
            fig = go.Figure()
            fig.add_bar(y=["ε"], x=[spent], name="spent", orientation="h")
            if remaining is not None:
                fig.add_bar(y=["ε"], x=[remaining], name="remaining", orientation="h")
            fig.update_layout(barmode="stack", title=f"ε spent{' and remaining' if remaining is not None else ''} (δ = {p.get('delta')})", height=220)
            out.append(as_html(fig))
    assoc = report.figures.get("association")
    if assoc:
        fig = go.Figure(go.Heatmap(z=assoc["difference"], x=assoc["columns"], y=assoc["columns"], zmid=0, colorscale="RdBu"))
        fig.update_layout(title="Association difference (synthetic − real): Pearson / Cramér's V", height=600)
        out.append(as_html(fig))
    marg = report.figures.get("marginals") or []
    if marg:
        fig = make_subplots(rows=len(marg), cols=1, subplot_titles=[f"{' × '.join(m['columns'])} (TVD {m['tvd']:.3f})" for m in marg])
        for i, m in enumerate(marg, start=1):
            fig.add_bar(x=m["labels"], y=m["real"], name="real", marker_color="#1f77b4", showlegend=i == 1, row=i, col=1)
            fig.add_bar(x=m["labels"], y=m["synthetic"], name="synthetic", marker_color="#ff7f0e", showlegend=i == 1, row=i, col=1)
        fig.update_layout(title="Worst marginals, side by side", height=320 * len(marg), barmode="group")
        out.append(as_html(fig))
    return out


@lru_cache(maxsize=1)
def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def render_html(report: EvaluationReport, audience: str = "full") -> str:
    """The release card as one self-contained HTML page."""
    if audience not in AUDIENCES:
        raise EvaluationError(f"audience ({audience!r}) must be one of {', '.join(AUDIENCES)}")
    full = audience == "full"
    if full:
        metrics = [
            {
                "name": m.name, "group": m.group, "description": m.description, "verdict": m.verdict,
                "value_text": _fmt(m.value),
                "interval_text": "—" if m.interval is None else f"[{_fmt(m.interval[0])}, {_fmt(m.interval[1])}]",
                "threshold_text": _threshold_text(m.threshold),
                "flags_text": "; ".join(m.details.get("flags") or []),
            }
            for m in report.metrics
        ]
        privacy = report.privacy
        group_verdicts = {g: report.group_verdict(g) for g in ("utility", "risk") if report.by_group(g)}
    else:
        view = report.ml_view()
        metrics = [
            {"name": m["name"], "group": m["group"], "description": m["description"], "verdict": m["verdict"],
             "threshold_text": _threshold_text(m["threshold"]), "flags_text": ""}
            for m in view["metrics"]
        ]
        privacy = view["privacy"]
        group_verdicts = view["group_verdicts"]
    html = _env().get_template("card.html").render(
        title="Synthetic data release card" + ("" if full else " (ML team)"),
        overall=report.overall_verdict,
        group_verdicts=group_verdicts,
        privacy=privacy,
        show_values=full,
        metrics=metrics,
        figures=_figures(report) if full else [],
        plotly_js=_plotly_js() if full else "",
        notes=list(report.notes) if full else [],
        sampling=json.dumps(report.sampling, indent=1) if full else "",
        footer=("Full card: contains statistics of the real table; for the privacy officer only."
                if full else "ML-team card: contains no statistic computed on the real table beyond the verdicts and DP figures."),
    )
    return html


def render_json(report: EvaluationReport, audience: str = "full") -> str:
    if audience not in AUDIENCES:
        raise EvaluationError(f"audience ({audience!r}) must be one of {', '.join(AUDIENCES)}")
    return report.to_json() if audience == "full" else report.ml_json()
