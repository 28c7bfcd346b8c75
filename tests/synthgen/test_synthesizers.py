"""Behaviour of the DP synthesizers: accounting, neighbouring-dataset invariance, schema fidelity."""

import math

import numpy as np
import pandas as pd
import polars as pl
import pytest

import synthgen.synthesizers.marginal as marginal
from synthgen.budget import PrivacyBudget
from synthgen.encoding import encode
from synthgen.errors import InvalidInputError, ModelFileError
from synthgen.model import FittedModel
from synthgen.sampler import CompiledSampler
from synthgen.synthesizers import AIM, MST, fit

from tests.synthgen.helpers import titanic, titanic_small

BUDGET = PrivacyBudget.from_epsilon(1.0, 1e-9)
FAST_MST = MST(estimation_iters=60)
FAST_AIM = AIM(rounds=4, estimation_iters=30, max_model_mb=2.0)
FAST_AIM_TARGET = AIM(rounds=4, estimation_iters=30, max_model_mb=2.0, target="Survived")


class ReleaseSpy:
    """Records everything the pipeline hands to OpenDP, then lets the real release run."""

    def __init__(self, monkeypatch):
        self.calls = []
        real = marginal._release

        def spy(data, keys, contributions, rho, algorithm):
            table, context = real(data, keys, contributions, rho, algorithm)
            schema = data.collect_schema()
            self.calls.append({
                "columns": list(schema.names()),
                "dtypes": [str(t) for t in schema.dtypes()],
                "keys": {k: list(v) for k, v in keys.items()},
                "contributions": contributions,
                "rho": rho,
                "consumed": float(context.current_privacy_loss()),
                "model_total": float(table.model.total),
                "model": table.model,
            })
            return table, context

        monkeypatch.setattr(marginal, "_release", spy)


def _fit_recording(frame, schema, config, spy):
    messages = []
    model = fit(frame, schema, config, BUDGET, progress=lambda f, m: messages.append((round(f, 3), m)))
    return model, messages, spy.calls[-1]


def _canaries(frame: pd.DataFrame) -> pd.DataFrame:
    """Records a careless pipeline would learn from: a novel category, extreme values, NaN,
    +-inf, an empty string and a duplicated person."""
    base = frame.iloc[0].to_dict()
    rows = [
        {**base, "Sex": "a-category-nobody-declared"},
        {**base, "Age": 1e9, **({"Fare": -math.inf} if "Fare" in frame else {})},
        {**base, "Age": np.nan, **({"Fare": math.inf} if "Fare" in frame else {})},
        {**base, "Embarked": ""},
        {**base, "Age": -math.inf},
        frame.iloc[1].to_dict(),
    ]
    return pd.concat([frame, pd.DataFrame(rows)], ignore_index=True)


@pytest.mark.slow
@pytest.mark.parametrize("config", [FAST_MST, FAST_AIM, FAST_AIM_TARGET], ids=["mst", "aim", "aim-target"])
def test_neighbouring_datasets_give_identical_metadata(monkeypatch, config):
    frame, schema = titanic_small() if isinstance(config, AIM) else titanic()
    spy = ReleaseSpy(monkeypatch)
    model_d, messages_d, call_d = _fit_recording(frame, schema, config, spy)
    model_c, messages_c, call_c = _fit_recording(_canaries(frame), schema, config, spy)

    for field in ("columns", "dtypes", "keys", "contributions", "rho"):
        assert call_d[field] == call_c[field], field
    # AIM's number of rounds is chosen from its own noisy measurements (post-processing of DP
    # output), so "AIM round n" messages may differ between runs; everything else must not.
    adaptive = lambda ms: [m for m in ms if not m[1].startswith("AIM round")]
    assert adaptive(messages_d) == adaptive(messages_c)
    volatile = {"fitted_on", "accounting", "default_rows", "budget"}
    assert {k: v for k, v in model_d.info.items() if k not in volatile} == {k: v for k, v in model_c.info.items() if k not in volatile}
    # the default row count is OpenDP's noisy estimate of the size, never len(data)
    assert model_d.info["default_rows"] == call_d["model_total"]
    assert model_c.info["default_rows"] == call_c["model_total"]
    sample_d = model_d.sample(50, rng=np.random.default_rng(0))
    sample_c = model_c.sample(50, rng=np.random.default_rng(0))
    assert list(sample_d.columns) == list(sample_c.columns)
    assert sample_d.dtypes.astype(str).tolist() == sample_c.dtypes.astype(str).tolist()
    # keys come from the schema alone
    assert call_d["keys"] == {c.name: list(range(c.cardinality)) for c in schema.synthesized_columns}


@pytest.mark.slow
def test_identifiers_never_reach_opendp_and_budget_matches_accounting(monkeypatch, tmp_path):
    frame, schema = titanic()
    spy = ReleaseSpy(monkeypatch)
    model, _, call = _fit_recording(frame, schema, FAST_MST, spy)
    identifiers = set(schema.with_role("identifier"))
    assert identifiers and not identifiers & set(call["columns"])
    assert call["columns"] == [c.name for c in schema.synthesized_columns]
    assert set(call["dtypes"]) == {"Int64"}
    # what the model records is what OpenDP's compositor says was consumed
    assert abs(model.info["budget"]["rho"] - call["consumed"]) <= 1e-12
    assert abs(call["consumed"] - BUDGET.rho) <= 1e-12
    path = tmp_path / "model.zip"
    model.save(path)
    loaded = FittedModel.load(path)
    assert abs(loaded.info["budget"]["rho"] - call["consumed"]) <= 1e-12
    assert loaded.info["schema_fingerprint"] == schema.fingerprint()
    assert {"opendp", "mbi", "numpy"} <= set(loaded.info["versions"])


@pytest.mark.slow
def test_samples_lie_inside_the_schema_and_reload_reproducibly(tmp_path):
    frame, schema = titanic()
    model = fit(frame, schema, FAST_MST, BUDGET)
    synthetic = model.sample(10_000, rng=np.random.default_rng(7))
    assert len(synthetic) == 10_000
    encode(synthetic, schema, strict=True)  # raises on any value outside the declared schema
    for col in schema.synthesized_columns:
        if not col.nullable:
            assert synthetic[col.name].notna().all(), col.name
    assert synthetic["Age"].dropna().between(0, 100).all()
    assert synthetic["Age"].isna().any()  # Age is nullable and often missing in the real table
    assert synthetic["SibSp"].dtype == np.int64
    path = tmp_path / "m.zip"
    model.save(path)
    again = FittedModel.load(path).sample(10_000, rng=np.random.default_rng(7))
    pd.testing.assert_frame_equal(synthetic, again)
    other_seed = model.sample(10_000, rng=np.random.default_rng(8))
    assert not synthetic.equals(other_seed)


def test_model_files_are_validated(tmp_path):
    with pytest.raises(ModelFileError, match="not a synthgen model file"):
        FittedModel.from_bytes(b"PK\x03\x04 certainly not a zip")
    with pytest.raises(ModelFileError, match="does not exist"):
        FittedModel.load(tmp_path / "missing.zip")


def test_inputs_are_checked_before_private_data_is_read():
    frame, schema = titanic()
    from dataclasses import replace

    with pytest.raises(InvalidInputError, match="derived_from_private_data"):
        fit(frame, replace(schema, derived_from_private_data=True), MST(), BUDGET)
    with pytest.raises(Exception, match="budget must be given"):
        fit(frame, schema, MST(), None)
    with pytest.raises(InvalidInputError, match=r"measure_split \(1.5\) must be in \(0, 1\]"):
        MST(measure_split=1.5)
    with pytest.raises(Exception, match="unknown column 'extra'"):
        fit(frame.assign(extra=1), schema, MST(), BUDGET)


def test_compiled_sampler_reproduces_its_conditional_tables():
    cpt_a = np.array([0.2, 0.8])
    cpt_b = np.array([[0.9, 0.1, 0.0], [0.1, 0.3, 0.6]])
    sampler = CompiledSampler(order=("a", "b"), parents={"a": (), "b": ("a",)}, cpts={"a": cpt_a, "b": cpt_b})
    codes = sampler.sample_codes(200_000, np.random.default_rng(1))
    assert abs(codes["a"].mean() - 0.8) < 0.01
    for a in (0, 1):
        observed = np.bincount(codes["b"][codes["a"] == a], minlength=3) / (codes["a"] == a).sum()
        assert np.allclose(observed, cpt_b[a], atol=0.01)
    assert (codes["b"][codes["a"] == 0] != 2).all()  # zero-probability values never appear


@pytest.mark.slow
@pytest.mark.parametrize("config", [FAST_MST, FAST_AIM], ids=["mst", "aim"])
def test_compiled_sampler_matches_the_fitted_model(monkeypatch, config):
    """KNOWN-PITFALLS #1: mbi 1.1's generator conditions on the wrong cliques and makes siblings
    comonotone. Our compiled tables must reproduce the fitted model's own pair marginals, and
    the sampler's output must follow its tables."""
    from synthgen.sampler import compile_mrf

    frame, schema = titanic_small() if isinstance(config, AIM) else titanic()
    spy = ReleaseSpy(monkeypatch)
    model, _, call = _fit_recording(frame, schema, config, spy)
    mrf = call["model"]
    compiled = compile_mrf(mrf, {a: mrf.domain.size(a) for a in mrf.domain.attrs})
    names = [c.name for c in schema.synthesized_columns]
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            expected = np.asarray(mrf.project((a, b)).values, dtype=float)
            expected = expected / expected.sum()
            assert np.abs(expected - _pair(compiled, a, b)).sum() < 1e-3, (a, b)
    codes = model.sampler.sample_codes(100_000, np.random.default_rng(0))
    for a, b in [(names[0], names[1]), (names[1], names[-1])]:
        joint = _pair(model.sampler, a, b)
        empirical = np.zeros_like(joint)
        np.add.at(empirical, (codes[a], codes[b]), 1)
        assert np.abs(empirical / empirical.sum() - joint).sum() < 0.03, (a, b)


def _pair(sampler: CompiledSampler, a: str, b: str) -> np.ndarray:
    """Exact pair marginal of the Bayesian network the sampler encodes."""
    labels = {c: i for i, c in enumerate(sampler.order)}
    operands = []
    for col in sampler.order:
        operands += [sampler.cpts[col], [labels[p] for p in sampler.parents[col]] + [labels[col]]]
    return np.einsum(*operands, [labels[a], labels[b]], optimize="greedy")
