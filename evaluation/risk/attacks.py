"""The three anonymeter attacks: singling out, linkability, inference.

Every attack runs inside :func:`evaluation.risk.anonymeter_fixes.controlled_anonymeter` (seeded,
fast, with the fixes listed there) and returns a typed
:class:`~evaluation.risk.results.RiskResult`.

Inference. :func:`inference` runs anonymeter's inference attack (nearest synthetic row on the
auxiliary columns, anonymeter's guess judging and interval arithmetic) with three changes, all
reported in the result's figures: (1) more attacks where the interval needs them: after
``n_attacks`` targets per side, when the half-width exceeds :data:`INFERENCE_TARGET_HALF_WIDTH`
the attack is extended to as many targets as that predicts, capped by the table sizes and
:data:`INFERENCE_MAX_ATTACKS` per side and by :data:`INFERENCE_MAX_PAIRS` distance pairs (the risk is normalised by ``1 - control rate``, about 0.09
for Adult's capital-loss, so 1,000 attacks gave intervals of ±0.2); (2) the attack and control
success rates are post-stratified on the secret's schema value (its bin or category; values
with fewer than :data:`INFERENCE_MIN_STRATUM` targets on a side pooled) with common weights, the
share of each value among all attacked targets, so that a chance difference in how many training
and control targets have, say, zero capital gain does not enter the risk (training and control
are samples of one population, so the expected contrast is unchanged; on Adult this narrows the
capital-gain/-loss intervals by a quarter to a third); anonymeter's raw rates are reported next to
the stratified ones; (3) the random-guess baseline gives each target the secret of a random
synthetic row (anonymeter's aligns guesses on the wrong index, so most are missing unless the
attack covers the whole table: baseline rates of 0.02-0.4 instead of 0.64-0.91 on Adult).
"""

from __future__ import annotations

import math
import warnings
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from evaluation.risk.anonymeter_fixes import (
    MULTIVARIATE_N_COLS,
    _fast_nearest_neighbors,
    _size_corrected_control,
    classify_messages,
    controlled_anonymeter,
)
from evaluation.risk.results import RiskResult
from synthgen.encoding import _to_seconds, normalised
from synthgen.schema import Column

INFERENCE_TARGET_HALF_WIDTH = 0.04
INFERENCE_MAX_ATTACKS = 20_000
# a bound on the nearest-neighbour work (targets x synthetic rows per side): 20,000 targets on
# Adult's 34,189 synthetic rows, 10,000 on a 100,000-row synthetic table
INFERENCE_MAX_PAIRS = 1_000_000_000
INFERENCE_MIN_STRATUM = 20
CONFIDENCE = 0.95
MISSING = "<missing>"


def attack_frame(frame: pd.DataFrame, columns: list[Column]) -> pd.DataFrame:
    """The table as anonymeter sees it: columns renamed ``c0..ck`` (any original name works),
    categories as text with missing as ``<missing>``, numbers and datetimes as floats."""
    out = {}
    for i, col in enumerate(columns):
        values = frame[col.name].reset_index(drop=True)
        if col.kind == "numeric":
            out[f"c{i}"] = pd.to_numeric(values, errors="coerce").astype(float)
        elif col.kind == "datetime":
            out[f"c{i}"] = _to_seconds(values)
        else:
            text = normalised(values)
            out[f"c{i}"] = text.where(text.notna(), MISSING).astype(object)
    return pd.DataFrame(out)


def _risk_result(results: Any, messages: list[str], extra: dict, n_made: int | None = None) -> RiskResult:
    risk = results.risk()
    attack = results.attack_rate
    baseline = results.baseline_rate
    control = results.control_rate
    flags, warns = classify_messages(messages)
    return RiskResult(
        value=float(risk.value),
        interval=(float(risk.ci[0]), float(risk.ci[1])),
        n_attacks=int(results.n_attacks_ori if n_made is None else n_made),
        flags=tuple(flags), warnings=tuple(warns),
        figures={
            "attack_rate": float(attack.value),
            "attack_error": float(attack.error),
            "baseline_rate": float(baseline.value),
            "baseline_error": float(baseline.error),
            "control_rate": None if control is None else float(control.value),
            "control_error": None if control is None else float(control.error),
            "n_attacks_requested": int(results.n_attacks_ori),
            "n_success": int(results.n_success),
            "n_baseline": int(results.n_baseline),
            "n_control": None if results.n_control is None else float(results.n_control),
            "confidence_level": CONFIDENCE,
            **extra,
        },
    )


def singling_out(train: pd.DataFrame, syn: pd.DataFrame, control: pd.DataFrame, mode: str, n_attacks: int, seed: int) -> RiskResult:
    """anonymeter's singling-out attack (``univariate`` or ``multivariate``); ``n_attacks`` of
    the result is the number of queries actually generated (each query is one attack)."""
    from anonymeter.evaluators import SinglingOutEvaluator

    n_cols = min(MULTIVARIATE_N_COLS, train.shape[1])
    stats: dict = {}
    with controlled_anonymeter(seed, stats) as messages:
        ev = SinglingOutEvaluator(ori=train, syn=syn, control=control, n_attacks=n_attacks, n_cols=n_cols, seed=seed)
        ev.evaluate(mode=mode)
        queries = stats.pop("_queries", None)
        correction: dict = {"method": "none (no control)"}
        if ev._n_control is not None:
            ev._n_control, correction = _size_corrected_control(ev._ori, ev._control, queries or [], int(ev._n_control))
        results = ev.results(confidence_level=CONFIDENCE)
    # n_queries: queries that single out in the training table (anonymeter's successes)
    extra = {"mode": mode, "n_queries": len(ev.queries()), "n_queries_generated": stats.pop("n_queries_generated", None),
             "size_correction": correction}
    if mode == "multivariate":
        extra.update(n_cols=n_cols, **stats)
    generated = extra["n_queries_generated"]
    # anonymeter's univariate generator enumerates every candidate (each column's minimum,
    # maximum, lone missing value and values seen once in the synthetic table) and keeps those
    # that single out a synthetic row. Fewer than requested therefore means the synthetic table
    # offers no more such queries: the attack is complete, not under-powered, and anonymeter
    # scores it over the requested count (queries that cannot be made count as failed attacks).
    extra["query_space_exhausted"] = bool(mode == "univariate" and generated is not None and int(generated) < n_attacks)
    return _risk_result(results, messages, extra, n_made=n_attacks if generated is None else min(n_attacks, int(generated)))


def linkability_columns(columns: list[Column], card: dict[str, int]) -> tuple[list[int], list[int]]:
    """Split the auxiliary columns (quasi-identifiers, then attributes; most distinct values first)
    alternately into the attacker's two datasets, so that each holds about half the QIs."""
    qis = [i for i, c in enumerate(columns) if c.role == "quasi_identifier"]
    attrs = [i for i, c in enumerate(columns) if c.role == "attribute"]
    order = sorted(qis, key=lambda i: -card[columns[i].name]) + sorted(attrs, key=lambda i: -card[columns[i].name])
    return order[0::2], order[1::2]


def linkability(train: pd.DataFrame, syn: pd.DataFrame, control: pd.DataFrame, aux: tuple[list[str], list[str]], n_attacks: int, seed: int) -> RiskResult:
    from anonymeter.evaluators import LinkabilityEvaluator
    from anonymeter.evaluators.linkability_evaluator import LinkabilityIndexes

    rng = np.random.default_rng(seed)
    n = min(n_attacks, len(train), len(control))
    targets = train.iloc[np.sort(rng.choice(len(train), size=n, replace=False))].reset_index(drop=True)
    ctargets = control.iloc[np.sort(rng.choice(len(control), size=n, replace=False))].reset_index(drop=True)
    with controlled_anonymeter(seed) as messages:
        ev = LinkabilityEvaluator(ori=targets, syn=syn, aux_cols=(list(aux[0]), list(aux[1])), n_attacks=n, control=ctargets, n_neighbors=1)
        ev.evaluate(n_jobs=1)
        # anonymeter draws its random-guess baseline from an unseeded generator: redraw it from rng.
        ev._baseline_links = LinkabilityIndexes(
            idx_0=rng.integers(0, len(syn), size=(n, 1)), idx_1=rng.integers(0, len(syn), size=(n, 1))
        )
        results = ev.results(confidence_level=CONFIDENCE)
    return _risk_result(results, messages, {"n_neighbors": 1})


def _aux_matrices(frames: list[pd.DataFrame], aux: list[str]) -> tuple[list[np.ndarray], int]:
    """anonymeter's ``mixed_types_transform`` for several tables at once: numeric columns first,
    divided by their range over all the tables, then categories label-encoded over all of them."""
    num = [c for c in aux if pd.api.types.is_float_dtype(frames[0][c])]
    cat = [c for c in aux if c not in num]
    blocks: list[list[np.ndarray]] = [[] for _ in frames]
    for c in num:
        values = [f[c].to_numpy(dtype=float) for f in frames]
        both = np.concatenate(values)
        span = float(np.nanmax(both) - np.nanmin(both)) if np.isfinite(both).any() else 0.0
        for b, v in zip(blocks, values):
            b.append(v / (span or 1.0))
    for c in cat:
        values = [f[c].astype(str).to_numpy() for f in frames]
        _, codes = np.unique(np.concatenate(values), return_inverse=True)
        offsets = np.cumsum([0] + [len(v) for v in values])
        for i, b in enumerate(blocks):
            b.append(codes[offsets[i]:offsets[i + 1]].astype(float))
    mats = [np.column_stack(b) if b else np.zeros((len(f), 0)) for b, f in zip(blocks, frames)]
    return mats, len(num)


def _strata(train_codes: np.ndarray, control_codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Strata of the attacked targets by the secret's schema value (bin or category): values with
    fewer than :data:`INFERENCE_MIN_STRATUM` targets on either side are pooled, and a pool that is
    still too small joins the largest stratum."""
    values, counts_t = np.unique(train_codes, return_counts=True)
    counts_c = np.array([(control_codes == v).sum() for v in values])
    kept = [v for v, a, b in zip(values, counts_t, counts_c) if min(a, b) >= INFERENCE_MIN_STRATUM]
    label_t = np.full(len(train_codes), -1, dtype=np.int64)
    label_c = np.full(len(control_codes), -1, dtype=np.int64)
    for i, v in enumerate(kept):
        label_t[train_codes == v] = i
        label_c[control_codes == v] = i
    rest = min((label_t == -1).sum(), (label_c == -1).sum())
    if (rest < INFERENCE_MIN_STRATUM or (label_t == -1).sum() == 0 or (label_c == -1).sum() == 0) and kept:
        largest = int(np.argmax(np.bincount(np.r_[label_t[label_t >= 0], label_c[label_c >= 0]])))
        label_t[label_t == -1] = largest
        label_c[label_c == -1] = largest
    _, both = np.unique(np.r_[label_t, label_c], return_inverse=True)
    return both[: len(label_t)], both[len(label_t):], int(both.max()) + 1 if len(both) else 0


def _stratified_rate(ok: np.ndarray, label: np.ndarray, weights: np.ndarray):
    from anonymeter.stats.confidence import SuccessRate, success_rate

    rate = error2 = 0.0
    for h, w in enumerate(weights):
        sel = label == h
        r = success_rate(n_total=int(sel.sum()), n_success=int(ok[sel].sum()), confidence_level=CONFIDENCE)
        rate += w * r.value
        error2 += (w * r.error) ** 2
    return SuccessRate(value=rate, error=math.sqrt(error2))


class Secret(NamedTuple):
    """A secret column of the attack frames: its code (``c3``), whether anonymeter judges guesses
    as numbers (5 % relative tolerance) and its schema value (bin or category code) for every
    training and control row, used only to stratify the targets."""

    code: str
    regression: bool
    strata_train: np.ndarray
    strata_control: np.ndarray


def _inference_result(syn: pd.DataFrame, train: pd.DataFrame, control: pd.DataFrame, secret: Secret,
                      nn_t: np.ndarray, nn_c: np.ndarray, rows_t: np.ndarray, rows_c: np.ndarray,
                      rng: np.random.Generator) -> RiskResult:
    from anonymeter.evaluators.inference_evaluator import evaluate_inference_guesses
    from anonymeter.stats.confidence import EvaluationResults, bind_value, residual_success

    regression, code = bool(secret.regression), secret.code
    secret_s = syn[code].to_numpy()
    truth_t = train[code].to_numpy()[rows_t]
    truth_c = control[code].to_numpy()[rows_c]
    def judge(guesses: np.ndarray, truth: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):  # anonymeter divides by the guess
            return evaluate_inference_guesses(pd.Series(guesses), pd.Series(truth), regression)

    ok_t, ok_c = judge(secret_s[nn_t], truth_t), judge(secret_s[nn_c], truth_c)
    # anonymeter's naive baseline draws guesses with the synthetic rows' index and then aligns
    # them on the targets' index (reindex_like), so most guesses are missing unless the attack
    # covers the whole table; here each target gets the secret of a random synthetic row.
    n_base = min(len(syn), len(rows_t))
    ok_b = judge(secret_s[rng.integers(0, len(syn), size=n_base)], truth_t[:n_base])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = EvaluationResults(
            n_attacks=(len(rows_t), n_base, len(rows_c)), n_success=int(ok_t.sum()), n_baseline=int(ok_b.sum()),
            n_control=int(ok_c.sum()), confidence_level=CONFIDENCE,
        )
    label_t, label_c, n_strata = _strata(np.asarray(secret.strata_train)[rows_t], np.asarray(secret.strata_control)[rows_c])
    weights = np.bincount(np.r_[label_t, label_c], minlength=n_strata) / (len(label_t) + len(label_c))
    attack = _stratified_rate(ok_t, label_t, weights)
    ctrl = _stratified_rate(ok_c, label_c, weights)
    residual = residual_success(attack_rate=attack, control_rate=ctrl)
    risk = bind_value(residual.value, residual.error)
    flags, warns = classify_messages([str(w.message) for w in caught])
    return RiskResult(
        value=float(risk.value),
        interval=(float(risk.ci[0]), float(risk.ci[1])),
        n_attacks=len(rows_t),
        half_width=float(residual.error),
        flags=tuple(flags), warnings=tuple(warns),
        figures={
            "attack_rate": float(results.attack_rate.value),
            "attack_error": float(results.attack_rate.error),
            "baseline_rate": float(results.baseline_rate.value),
            "baseline_error": float(results.baseline_rate.error),
            "control_rate": float(results.control_rate.value),
            "control_error": float(results.control_rate.error),
            "stratified_attack_rate": float(attack.value),
            "stratified_control_rate": float(ctrl.value),
            "strata": n_strata,
            "n_control_attacks": len(rows_c),
            "n_success": int(ok_t.sum()),
            "n_baseline": int(ok_b.sum()),
            "n_control": int(ok_c.sum()),
            "confidence_level": CONFIDENCE,
            "regression": regression,
            "half_width": float(residual.error),
        },
    )


def inference(train: pd.DataFrame, syn: pd.DataFrame, control: pd.DataFrame, aux: list[str],
              secrets: list[Secret], n_attacks: int, seed: int, *,
              target_half_width: float = INFERENCE_TARGET_HALF_WIDTH,
              max_attacks: int = INFERENCE_MAX_ATTACKS) -> dict[str, RiskResult]:
    """anonymeter's inference attack for every secret in ``secrets``, all with the same
    auxiliary columns; returns one result per secret code (see module docstring).

    The attacker guesses a target's secret as that of the synthetic row nearest on ``aux``
    (anonymeter's ``KNNInferencePredictor``, same distance; neighbours are searched once and
    shared by the secrets), judged by anonymeter's ``evaluate_inference_guesses``. Targets are a
    random order of the training and of the control rows (from ``seed``); the first
    ``n_attacks`` of each are attacked, then, when a secret's half-width exceeds
    ``target_half_width``, as many more as that half-width predicts, up to the table sizes and
    ``max_attacks`` per side.
    """
    rng = np.random.default_rng(seed)
    max_attacks = max(n_attacks, min(max_attacks, INFERENCE_MAX_PAIRS // max(len(syn), 1)))
    cap_t, cap_c = min(len(train), max_attacks), min(len(control), max_attacks)
    order_t = rng.permutation(len(train))[:cap_t]
    order_c = rng.permutation(len(control))[:cap_c]
    (m_s, m_t, m_c), k = _aux_matrices([syn, train, control], list(aux))
    n_t, n_c = min(n_attacks, cap_t), min(n_attacks, cap_c)
    nearest = lambda queries: _fast_nearest_neighbors(queries, m_s, k, 1)[0][:, 0]
    nn_t, nn_c = nearest(m_t[order_t[:n_t]]), nearest(m_c[order_c[:n_c]])
    evaluate_all = lambda: {
        secret.code: _inference_result(syn, train, control, secret, nn_t, nn_c, order_t[:n_t], order_c[:n_c],
                                       np.random.default_rng([seed, j]))
        for j, secret in enumerate(secrets)
    }
    results = evaluate_all()
    widest = max((r.half_width for r in results.values()), default=0.0)
    n_first = (n_t, n_c)
    if widest > target_half_width and (n_t < cap_t or n_c < cap_c):
        # the half-width shrinks as 1/sqrt(attacks); 10 % more for the rates' own noise
        want = math.ceil(max(n_t, n_c) * (widest / target_half_width) ** 2 * 1.1)
        more_t, more_c = min(cap_t, max(want, n_t)), min(cap_c, max(want, n_c))
        nn_t = np.r_[nn_t, nearest(m_t[order_t[n_t:more_t]])] if more_t > n_t else nn_t
        nn_c = np.r_[nn_c, nearest(m_c[order_c[n_c:more_c]])] if more_c > n_c else nn_c
        n_t, n_c = more_t, more_c
        results = evaluate_all()
    return {
        code: r.with_figures(
            n_attacks_requested=n_attacks, n_attacks_first=list(n_first), target_half_width=target_half_width,
            max_attacks_per_side=max_attacks, attack_cap=[cap_t, cap_c],
            target_reached=bool(r.half_width <= target_half_width),
        )
        for code, r in results.items()
    }
