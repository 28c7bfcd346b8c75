"""Out-of-core encoding and counting give exactly what the in-memory path gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthgen.encoding import encode
from synthgen.engines import check_engine, polars_counts
from synthgen.errors import InvalidInputError
from synthgen.io import read_table
from synthgen.lazy import encode_lazy, encode_to_parquet, scan_table
from synthgen.schema import Column, PrivacyUnit, Schema
from synthgen.synthesizers import AIM, MST

SCHEMA = Schema(columns=(
    Column(name="age", kind="numeric", lower=0, upper=100, cuts=(18, 65), integer=True),
    Column(name="income", kind="numeric", lower=0, upper=1000, cuts=(100, 500), integer=True, codes=("N", "X"), nullable=True),
    Column(name="sex", kind="categorical", categories=("F", "M"), nullable=True),
    Column(name="grade", kind="categorical", categories=(1, 2, 3)),
    Column(name="diag", kind="categorical", code_list="icd9-cm-chapters", nullable=True),
    Column(name="when", kind="datetime", lower="2020-01-01", upper="2021-01-01", cuts=("2020-07-01",), granularity="day", nullable=True),
    Column(name="flag", kind="boolean", nullable=True),
    Column(name="pid", kind="numeric", role="identifier"),
))


def _frame() -> pd.DataFrame:
    n = 60
    i = np.arange(n)
    return pd.DataFrame({
        "age": [(-5 + 7 * k) % 130 for k in i],                                  # some beyond the bounds
        "income": pd.Series([["N", "X", "", "1200", "99", "100", "7"][k % 7] for k in i], dtype=object),
        "sex": pd.Series([["F", "M", "Q", None][k % 4] for k in i], dtype=object),
        "grade": [[1, 2, 3, 4][k % 4] for k in i],                               # 4 is unknown: row left out
        "diag": pd.Series([["250.01", "V57", "E888", "8", "zzz", None][k % 6] for k in i], dtype=object),
        "when": pd.Series([["2020-03-01", "2020-08-15", None, "2019-01-01"][k % 4] for k in i], dtype=object),
        "flag": pd.Series([["yes", "no", "1", "0", "maybe", None][k % 6] for k in i], dtype=object),
        "pid": i,
    })


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_lazy_encoding_equals_the_in_memory_encoding(tmp_path, suffix):
    path = tmp_path / f"t.{suffix}"
    frame = _frame()
    if suffix == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.astype({c: str for c in ("income", "sex", "diag", "when", "flag")}).replace({"None": None}).to_parquet(path)
    expected = encode(read_table(path), SCHEMA)
    got = encode_lazy(scan_table(path), SCHEMA).collect()
    assert 0 < got.height < len(frame)  # some rows are left out by the rules, not all
    for name in expected.columns:
        assert got[name].to_list() == expected.codes[name].tolist(), name
    # the same, slice by slice (7 rows at a time) into a Parquet file of small codes
    out = tmp_path / "codes.parquet"
    assert encode_to_parquet(path, SCHEMA, out, batch_rows=7, small=True) == got.height
    sliced = pd.read_parquet(out)
    for name in expected.columns:
        assert sliced[name].tolist() == expected.codes[name].tolist(), name


def test_polars_counts_match_numpy_counts():
    encoded = encode(_frame(), SCHEMA)
    import polars as pl

    lf = pl.LazyFrame({k: pl.Series(k, v, dtype=pl.Int64) for k, v in encoded.codes.items()})
    sizes = {c.name: c.cardinality for c in SCHEMA.synthesized_columns}
    counts = polars_counts(lf, [("sex",), ("income", "sex")], sizes)
    expected = np.zeros((sizes["income"], sizes["sex"]), dtype=np.int32)
    np.add.at(expected, (encoded.codes["income"], encoded.codes["sex"]), 1)
    assert np.array_equal(counts[("income", "sex")], expected)
    assert np.array_equal(counts[("sex",)], expected.sum(axis=0))


def test_out_of_core_engines_refuse_what_they_cannot_do(tmp_path):
    person = Schema(columns=(Column(name="p", kind="numeric", role="identifier"), Column(name="a", kind="boolean")),
                    privacy_unit=PrivacyUnit(person_column="p", max_rows=2))
    path = tmp_path / "t.csv"
    pd.DataFrame({"p": [1, 1, 1], "a": [True, False, True]}).to_csv(path, index=False)
    with pytest.raises(InvalidInputError, match="person_column"):
        encode_lazy(scan_table(path), person)
    check_engine("spark", AIM())  # AIM counts through Spark too (synthgen.synthesizers._aim)
    with pytest.raises(InvalidInputError, match="engine"):
        check_engine("duckdb", MST())


@pytest.mark.slow
def test_polars_engine_fit_spends_the_same_budget_and_records_the_engine(tmp_path):
    from synthgen.budget import PrivacyBudget
    from synthgen.synthesizers import fit, fit_file

    path = tmp_path / "t.parquet"
    frame = _frame()
    frame.astype({c: str for c in ("income", "sex", "diag", "when", "flag")}).replace({"None": None}).to_parquet(path)
    budget = PrivacyBudget.from_rho(0.5)
    lazy = fit_file(path, SCHEMA, MST(estimation_iters=50), budget, engine="polars")
    memory = fit(read_table(path), SCHEMA, MST(estimation_iters=50), budget)
    assert lazy.info["engine"] == "polars" and memory.info["engine"] == "memory"
    assert lazy.info["budget"] == memory.info["budget"]
    assert len(lazy.info["accounting"]["measured_cliques"]) == len(memory.info["accounting"]["measured_cliques"])
    out = lazy.sample(200, rng=np.random.default_rng(0))
    assert set(out["income"].dropna()) & {"N", "X"}
    streamed = tmp_path / "out" / "synthetic.parquet"
    assert lazy.sample_to_parquet(streamed, 250, rng=np.random.default_rng(1), chunk_rows=100) == 250
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(streamed).metadata
    assert meta.num_rows == 250 and meta.num_row_groups == 3
    back = pd.read_parquet(streamed)
    assert list(back.columns) == [c.name for c in SCHEMA.synthesized_columns]
    assert not list((tmp_path / "out").glob(".*.tmp"))
