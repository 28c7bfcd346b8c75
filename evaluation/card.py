"""Release cards: one self-contained HTML page (static inline SVG, no script) and the JSON twin.

Two audiences (:data:`AUDIENCES`):

* ``full``, for the data owner and the privacy officers reviewing that dataset: every metric
  with value, interval, threshold and warnings, the distribution of every column real against
  synthetic (worst first), the association matrices real / synthetic / difference, each risk
  estimate with its interval against its limit, ε spent against the dataset's budget, the
  sampling figures. These are statistics of the real table, shown to nobody else.
* ``ml_team``: what the release itself reveals (ε/δ/ρ spent and the budget, mechanism, schema,
  synthetic row count, the facts the caller adds such as the approval) and the verdicts with
  their policy thresholds. No value measured on or against the real table: no real count, no
  real marginal, no metric value or interval, no warning text, no sampling figure.
  ``"ml"`` is accepted as the older name of this audience.

The page has no script and loads nothing: it renders offline, inside a sandboxed frame, and a
card for Adult is well under 1 MB (see benchmarks/bench_evaluation.py for measured sizes).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Mapping

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from evaluation import charts
from evaluation.errors import EvaluationError
from evaluation.report import EvaluationReport, Metric

AUDIENCES = ("full", "ml_team")
_ALIASES = {"ml": "ml_team"}
MAX_HEATMAP_COLUMNS = 40
MAX_COLUMN_CHARTS = 60


@lru_cache(maxsize=1)
def _env() -> Environment:
    return Environment(loader=PackageLoader("evaluation", "templates"), autoescape=select_autoescape(["html"]))


def audience_name(audience: str) -> str:
    """The canonical audience (``full`` or ``ml_team``), or a one-line error naming the choices."""
    name = _ALIASES.get(audience, audience) if isinstance(audience, str) else audience
    if name not in AUDIENCES:
        raise EvaluationError(f"audience ({audience!r}) must be one of {', '.join(AUDIENCES)}")
    return name


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _threshold_text(t: dict | None) -> str:
    if not t:
        return "—"
    where = {"value": "", "lower": " (lower end of CI)", "upper": " (upper end of CI)", "interval": " (whole 95 % CI)"}
    return f"{t['op']} {t['value']:g}{where.get(t.get('on', 'value'), '')}"


def _metric_row(m: Metric, with_values: bool) -> dict[str, str]:
    row = {"name": m.name, "group": m.group, "description": m.description, "verdict": m.verdict,
           "threshold_text": _threshold_text(m.threshold)}
    if with_values:
        row |= {"value_text": _fmt(m.value),
                "interval_text": "—" if m.interval is None else f"[{_fmt(m.interval[0])}, {_fmt(m.interval[1])}]",
                "flags_text": "; ".join((m.details.get("flags") or []) + (m.details.get("warnings") or []))}
    return row


def _privacy_rows(privacy: dict | None) -> list[tuple[str, str]]:
    if not privacy:
        return []
    names = [("epsilon", "ε spent"), ("delta", "δ"), ("rho", "ρ spent (zCDP)"), ("total_epsilon", "dataset budget ε"),
             ("remaining_epsilon", "ε remaining"), ("total_rho", "dataset budget ρ"), ("remaining_rho", "ρ remaining"),
             ("mechanism", "synthesizer"), ("conversion", "ρ → ε conversion")]
    return [(label, _fmt(privacy[key])) for key, label in names if privacy.get(key) is not None]


def _budget_svg(privacy: dict | None) -> Markup | None:
    if not privacy or privacy.get("epsilon") is None:
        return None
    return Markup(charts.budget_bar(float(privacy["epsilon"]), privacy.get("total_epsilon")))


def _risk_svg(report: EvaluationReport) -> Markup | None:
    rows = []
    for m in report.by_group("risk"):
        limit = m.threshold["value"] if m.threshold else None
        lo, hi = m.interval if m.interval is not None else (None, None)
        rows.append({"name": m.name, "value": m.value, "low": lo, "high": hi, "limit": limit, "verdict": m.verdict})
    if not rows:
        return None
    return Markup(charts.interval_chart("Privacy risks: estimate, 95 % interval and policy limit", rows))


def _column_svgs(report: EvaluationReport) -> list[Markup]:
    out = []
    for f in (report.figures.get("columns") or [])[:MAX_COLUMN_CHARTS]:
        title = f"{f['column']} · TVD {f['tvd']:.3f}" + ("" if f.get("ks") is None else f" · KS {f['ks']:.3f}")
        out.append(Markup(charts.paired_bars(title, f["labels"], f["real"], f["synthetic"])))
    return out


def _association_svgs(report: EvaluationReport) -> tuple[list[Markup], str]:
    a = report.figures.get("association")
    if not a:
        return [], ""
    names, real, syn, diff = a["columns"], a["real"], a["synthetic"], a["difference"]
    note = ""
    if len(names) > MAX_HEATMAP_COLUMNS:
        # the columns whose associations moved most, so the heatmaps stay legible and small
        worst = sorted(range(len(names)), key=lambda i: (-max(abs(v) for v in diff[i]), names[i]))[:MAX_HEATMAP_COLUMNS]
        keep = sorted(worst)
        note = f"The {MAX_HEATMAP_COLUMNS} of {len(names)} columns with the largest differences are drawn."
        names = [names[i] for i in keep]
        real, syn, diff = ([[m[i][j] for j in keep] for i in keep] for m in (real, syn, diff))
    return [Markup(charts.heatmap("Real", names, real)), Markup(charts.heatmap("Synthetic", names, syn)),
            Markup(charts.heatmap("Difference (synthetic − real)", names, diff, diverging=True))], note


def _sampling_rows(report: EvaluationReport) -> list[tuple[str, str]]:
    s = report.sampling
    rows = []
    for name in ("real", "synthetic", "control"):
        if name in s:
            part = s[name]
            # reports stored before the 'used' count existed show the rows alone
            rows.append((f"{name} rows", f"{part['used']:,} of {part['rows']:,}" if "used" in part else f"{part['rows']:,}"))
    if "n_attacks" in s:
        rows.append(("singling-out and linkability attacks", f"{s['n_attacks']:,}"))
    for secret, (n_t, n_c) in (s.get("inference_attacks") or {}).items():
        rows.append((f"inference attacks on {secret}", f"{n_t:,} training / {n_c:,} control targets"))
    if "dcr" in s:
        rows.append(("distance to closest record", f"{s['dcr']['synthetic_rows']:,} synthetic rows against "
                                                   f"{s['dcr']['reference_rows']:,} training and control rows"))
    if "tvd_noise_scale" in s:
        rows.append(("sampling noise scale of TVD", f"{s['tvd_noise_scale']:.3g}"))
    return rows


def _reasons(report: EvaluationReport, with_values: bool) -> list[str]:
    out = []
    for m in report.metrics:
        if m.verdict in ("fail", "inconclusive"):
            why = m.details.get("verdict_reason") if with_values else None
            out.append(f"{m.name}: {m.verdict}" + (f" ({why})" if why else ""))
    return out


def _inconclusive_note(report: EvaluationReport, full: bool) -> str:
    """What an inconclusive verdict means and what can be done about it. The control table's
    size bounds how narrow a risk interval can be; it is a statistic of the real table's split, so
    only the full card names it."""
    if report.overall_verdict != "inconclusive":
        return ""
    note = ("Inconclusive is not a failure: the evidence for a gate is too wide to certify it either way. "
            "A privacy officer may approve such a release with a written reason, or reject it.")
    control_rows = report.inputs.get("control_rows")
    if full and control_rows:
        note += (f" Risk intervals are as narrow as the {control_rows:,} control rows allow; "
                 "a larger held-out table narrows them.")
    return note


def render_card(report: EvaluationReport, audience: str = "full", *, facts: Mapping[str, Any] | None = None) -> str:
    """The release card as one self-contained HTML page (no script, no network).

    ``facts`` adds rows to the Release table (e.g. ``{"approved by": "alice"}``); they are shown
    to both audiences, so the caller passes only what the audience may see.
    """
    audience = audience_name(audience)
    if not isinstance(report, EvaluationReport):
        raise EvaluationError(f"report must be an EvaluationReport, not {type(report).__name__}")
    full = audience == "full"
    inputs = report.inputs
    schema = inputs.get("schema") or {}
    synthetic = inputs.get("synthetic") or {}
    rows = [("schema", f"{schema.get('name', '—')} (fingerprint {str(schema.get('fingerprint', '—'))[:16]})"),
            ("synthetic rows", _fmt(synthetic.get("rows"))),
            ("columns evaluated", _fmt(len(inputs.get("columns") or []))),
            ("target", _fmt(inputs.get("target"))),
            ("policy", f"{report.policy.get('name', '—')} v{report.policy.get('version', '—')}")]
    if full:
        rows += [("real training rows", _fmt(inputs.get("real_rows"))), ("control rows", _fmt(inputs.get("control_rows")))]
    rows += [(str(k), _fmt(v)) for k, v in (facts or {}).items()]
    if full:
        association_svgs, association_note = _association_svgs(report)
        page = dict(
            title="Synthetic data release card",
            audience_text="Full report for the data owner and the privacy officers reviewing this dataset: "
                          "it contains statistics of the real table and is not differentially private.",
            utility_rows=[_metric_row(m, True) for m in report.by_group("utility") if m.verdict != "info" or m.name.startswith(("tstr_", "trtr_"))],
            column_svgs=_column_svgs(report), association_svgs=association_svgs, association_note=association_note,
            risk_svg=_risk_svg(report), sampling_rows=_sampling_rows(report), notes=list(report.notes),
            metrics=[_metric_row(m, True) for m in report.metrics], show_values=True,
            footer="Full card: statistics of the real table; for the data owner and this dataset's privacy officers only.",
        )
    else:
        page = dict(
            title="Synthetic data release card (ML team)",
            audience_text="ML-team card: the release's own facts, its DP accounting and the verdicts. "
                          "No statistic of the real table is shown.",
            utility_rows=[], column_svgs=[], association_svgs=[], association_note="", risk_svg=None,
            sampling_rows=[], notes=[], metrics=[_metric_row(m, False) for m in report.metrics], show_values=False,
            footer="ML-team card: contains no value measured on or against the real table.",
        )
    return _env().get_template("card.html").render(
        overall=report.overall_verdict,
        group_verdicts={g: report.group_verdict(g) for g in ("utility", "risk") if report.by_group(g)},
        overall_reasons=_reasons(report, full),
        inconclusive_note=_inconclusive_note(report, full),
        facts=rows,
        privacy_rows=_privacy_rows(report.privacy),
        budget_svg=_budget_svg(report.privacy),
        **page,
    )


def render_html(report: EvaluationReport, audience: str = "full") -> str:
    """Same as :func:`render_card` (kept for existing callers)."""
    return render_card(report, audience)


def render_json(report: EvaluationReport, audience: str = "full") -> str:
    return report.to_json() if audience_name(audience) == "full" else report.ml_json()
