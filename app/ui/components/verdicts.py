"""Plain words for the evaluation: what each metric measures and why it got its verdict.

Pure functions over the report's metric dicts (``evaluation.report.Metric.to_dict``), so the
Review page can put the reason of every verdict on the same line as the verdict, in words a
privacy officer reads without the evaluator's source at hand.
"""

from __future__ import annotations

import fnmatch
from typing import Any

#: metric-name pattern -> (short label, what it measures). First match wins.
LABELS: tuple[tuple[str, str, str], ...] = (
    ("epsilon", "Privacy loss ε spent", "the ε the synthesizer actually spent (smaller is stronger protection)"),
    ("singling_out_*", "Singling out",
     "how often an attacker can isolate one real person from the synthetic rows, above a guessing baseline"),
    ("linkability*", "Linkability",
     "how often an attacker holding two halves of a person's record can link them through the synthetic rows"),
    ("inference:*", "Attribute inference",
     "how well an attacker who knows some of a person's columns guesses the secret column, above a baseline"),
    ("dcr_share", "Closer to training rows",
     "share of synthetic rows nearer to a training row than to an unseen row (0.5 means no memorisation)"),
    ("nndr_*", "Nearest-neighbour distance ratio",
     "how much closer synthetic rows sit to their nearest real row than to the second nearest"),
    ("exact_cop*", "Copied real rows", "share of synthetic rows that are verbatim training rows"),
    ("tvd_noise_scale", "Real-sample noise level",
     "how far two independent real samples of this size differ: the yardstick for the distances below"),
    ("tvd_1way_*", "Single-column distributions",
     "how far each column's distribution is from the real one (0 identical, 1 disjoint)"),
    ("tvd_2way_*", "Pairs of columns", "how far the joint distribution of column pairs is from the real one"),
    ("tvd_3way_*", "Triples of columns", "how far the joint distribution of column triples is from the real one"),
    ("ks_*", "Numeric columns, KS distance",
     "largest gap between the real and synthetic cumulative distributions of a numeric column"),
    ("association_diff*", "Correlations",
     "difference between real and synthetic pairwise associations (Pearson / Cramér's V)"),
    ("tstr_auc_skill*", "Model trained on synthetic data (skill kept)",
     "share of the real-data model's advantage over chance that a model trained on synthetic rows keeps"),
    ("tstr_auc*", "Model trained on synthetic data (AUC)",
     "a model trained on synthetic rows and tested on real ones, relative to one trained on real rows"),
    ("tstr_r2*", "Model trained on synthetic data (R²)",
     "a regression trained on synthetic rows and tested on real ones, relative to one trained on real rows"),
    ("tstr_*", "Model trained on synthetic data", "a model trained on synthetic rows and tested on real ones"),
    ("trtr_*", "Model trained on real data", "the reference: a model trained and tested on real rows"),
    ("sdmetrics_quality", "SDMetrics quality score", "SDMetrics' overall score of column shapes and pairs (0-1)"),
)

VERDICT_WORD = {"pass": "PASS", "fail": "FAIL", "inconclusive": "INCONCLUSIVE", "info": "info"}


def _qualifiers(name: str) -> list[str]:
    """The variant of a metric family a name denotes, in words (mean, largest, worst 10, ...)."""
    if ":" in name:
        return [name.split(":", 1)[1]]
    if name.startswith("singling_out_"):
        return [name.removeprefix("singling_out_").replace("_", " ")]
    words = []
    parts = name.split("_")
    for part in parts[1:]:
        if part.startswith("worst") and part[5:].isdigit():
            words.append(f"worst {part[5:]}")
        elif part == "max":
            words.append("largest")
        elif part == "mean" and not name.startswith("nndr"):
            words.append("mean")
        elif part == "p05":
            words.append("5th percentile")
        elif part in ("train", "control") and name.startswith("nndr"):
            words.append(f"to {part} rows")
        elif part == "excess":
            words.append("beyond real-sample noise")
        elif part == "associated":
            words.append("associated pairs")
        elif part == "accuracy":
            words.append("accuracy")
    return words


def label(name: str) -> tuple[str, str]:
    """(short label, what it measures) of a metric name; unknown names are shown as they are."""
    for pattern, short, what in LABELS:
        if fnmatch.fnmatchcase(name, pattern):
            extra = [w for w in _qualifiers(name) if w not in short]
            return (f"{short} ({', '.join(extra)})" if extra else short), what
    return name, ""


def _n(v: Any) -> str:
    return "—" if v is None else f"{v:.3g}" if isinstance(v, float) else str(v)


def reason(metric: dict[str, Any]) -> str:
    """One sentence: why this metric got its verdict. The evaluation's own reason
    (``details["verdict_reason"]``, written by ``evaluation.policy.judge``) when the report has
    one, so the page never re-judges; reports written before it existed get one built from the
    value, interval and bound."""
    given = (metric.get("details") or {}).get("verdict_reason")
    if isinstance(given, str) and given.strip():
        return given.strip()
    verdict = metric.get("verdict")
    value, interval, t = metric.get("value"), metric.get("interval"), metric.get("threshold")
    flags = (metric.get("details") or {}).get("flags") or []
    if verdict == "info" or not isinstance(t, dict):
        return "reported for information; no gate applies"
    bound, op, on = t.get("value"), t.get("op"), t.get("on", "value")
    below = op in ("<=", "<")
    limit = f"{'at most' if below else 'at least'} {_n(bound)}"
    if flags:
        return f"could not be measured reliably ({'; '.join(map(str, flags))}), so it cannot pass; the limit is {limit}"
    if value is None:
        return f"no estimate could be computed, so it cannot pass; the limit is {limit}"
    if on == "interval" and interval:
        lo, hi = interval
        edge = hi if below else lo
        if verdict == "pass":
            return f"the whole 95 % interval [{_n(lo)}, {_n(hi)}] is within the limit ({limit})"
        if verdict == "fail":
            return f"the estimate {_n(value)} itself breaks the limit ({limit})"
        return (f"the estimate {_n(value)} is within the limit ({limit}), but the 95 % interval reaches {_n(edge)}: "
                "too uncertain to certify")
    figure = value
    if on in ("lower", "upper") and interval:
        figure = interval[0] if on == "lower" else interval[1]
    which = {"lower": "the lower end of the interval", "upper": "the upper end of the interval"}.get(on, "the value")
    if verdict == "pass":
        return f"{which} {_n(figure)} is within the limit ({limit})"
    if verdict == "fail":
        return f"{which} {_n(figure)} breaks the limit ({limit})"
    return f"{which} {_n(figure)} could not be judged against the limit ({limit})"


def rows(report: dict[str, Any]) -> list[dict[str, str]]:
    """One display row per metric: group, verdict, label, value, interval, reason, what it measures."""
    out = []
    metrics = report.get("metrics", [])
    for m in metrics if isinstance(metrics, list) else []:
        if not isinstance(m, dict):
            continue
        short, what = label(str(m.get("name", "")))
        interval = m.get("interval")
        out.append({"group": str(m.get("group", "")), "verdict": str(m.get("verdict") or "info"),
                    "metric": short, "name": str(m.get("name", "")), "value": _n(m.get("value")),
                    "interval": f"[{_n(interval[0])}, {_n(interval[1])}]" if interval else "—",
                    "reason": reason(m), "what": what or str(m.get("description", ""))})
    return out
