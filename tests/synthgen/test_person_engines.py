"""The person-level bound on every engine: memory, Polars (out of core) and Spark keep the same
rows, count the same exact marginals, report the same rows set aside to the data owner and
spend the same ρ with the same contributions."""

from __future__ import annotations

import itertools
import os
import sys

import numpy as np
import pandas as pd
import polars as pl
import pytest

from synthgen.budget import PrivacyBudget
from synthgen.encoding import bound_rows_per_person, encode
from synthgen.engines import SparkCounter, fit_polars, fit_spark, polars_counts, spark_encode_bounded, spark_read_table
from synthgen.io import read_table
from synthgen.lazy import encode_to_parquet, person_bound_mask, scan_table
from synthgen.schema import Column, PrivacyUnit, Schema
from synthgen.synthesizers import MST, fit, fit_file

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

SCHEMA = Schema(
    columns=(
        Column("pid", "numeric", role="identifier"),
        Column("colour", "categorical", categories=("red", "green", "blue")),  # not nullable: a missing value leaves the row out
        Column("age", "numeric", lower=0, upper=100, cuts=(30, 60), integer=True),
        Column("flag", "boolean", nullable=True),
    ),
    privacy_unit=PrivacyUnit("pid", max_rows=2),
)


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    # persons with 1 to 6 rows, interleaved so that table order decides which rows are kept;
    # some rows have no person id, some do not fit the schema (a missing colour)
    rng = np.random.default_rng(7)
    n = 600
    pid = rng.integers(0, 150, size=n).astype(float)
    pid[rng.random(n) < 0.05] = np.nan
    colour = rng.choice(["red", "green", "blue"], size=n).astype(object)
    colour[rng.random(n) < 0.05] = None
    frame = pd.DataFrame({"pid": pid, "colour": colour, "age": rng.integers(0, 100, size=n),
                          "flag": rng.choice(["true", "false"], size=n)})
    path = tmp_path_factory.mktemp("person") / "people.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local[2]").appName("synthgen-person-tests")
        .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.memory", "1g").config("spark.ui.showConsoleProgress", "false").getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


NAMES = [c.name for c in SCHEMA.synthesized_columns]
SIZES = {c.name: c.cardinality for c in SCHEMA.synthesized_columns}
CLIQUES = [(n,) for n in NAMES] + list(itertools.combinations(NAMES, 2)) + [tuple(NAMES)]


def _memory(path):
    bounded = bound_rows_per_person(read_table(path), SCHEMA.privacy_unit)
    codes = encode(bounded.frame, SCHEMA).codes
    lf = pl.LazyFrame({k: pl.Series(k, v, dtype=pl.Int64) for k, v in codes.items()})
    return polars_counts(lf, CLIQUES, SIZES), (bounded.rows_over_limit, bounded.rows_without_person)


def test_polars_and_spark_bound_persons_like_memory(table, spark, tmp_path):
    expected, (over, without) = _memory(table)
    assert over > 0 and without > 0  # the table exercises both rules

    keep, p_over, p_without = person_bound_mask(scan_table(table), SCHEMA.privacy_unit)
    assert (p_over, p_without) == (over, without)
    codes = tmp_path / "codes.parquet"
    encode_to_parquet(table, SCHEMA, codes, keep=keep, batch_rows=97)  # slices that cut through persons
    from_polars = polars_counts(pl.scan_parquet(codes), CLIQUES, SIZES)

    encoded, facts = spark_encode_bounded(spark_read_table(spark, table), SCHEMA)
    from_spark = SparkCounter(encoded, NAMES)(CLIQUES, SIZES)
    assert (facts["rows_over_person_limit"], facts["rows_without_person_id"]) == (over, without)
    assert facts["rows_set_aside_by_person_bound"] == over + without
    for clique in CLIQUES:
        assert np.array_equal(from_polars[clique], expected[clique]), clique
        assert np.array_equal(from_spark[clique], expected[clique]), clique


def test_fits_on_every_engine_spend_the_same_and_report_the_same_to_the_owner(table, spark):
    budget = PrivacyBudget.from_epsilon(1.0, 1e-9)
    config = MST(estimation_iters=30)
    memory = fit(read_table(table), SCHEMA, config, budget)
    out_of_core = fit_file(table, SCHEMA, config, budget, engine="polars")
    _s, _r, details, facts = fit_spark(table, SCHEMA, config, budget, spark=spark)
    assert memory.data_owner_facts == out_of_core.data_owner_facts == facts
    assert memory.data_owner_facts["rows_set_aside_by_person_bound"] > 0
    for acc in (out_of_core.info["accounting"], details):
        assert acc["rho_consumed"] == memory.info["accounting"]["rho_consumed"]
        assert acc["contributions"] == memory.info["accounting"]["contributions"] == 2
    # exact counts of the private table never reach the saved model's info
    assert "rows_set_aside" not in str(out_of_core.info)


def test_polars_fit_without_a_person_column_reports_nothing_set_aside(tmp_path):
    path = tmp_path / "t.csv"
    pd.DataFrame({"colour": ["red", "blue"] * 20, "flag": ["true"] * 40}).to_csv(path, index=False)
    schema = Schema(columns=(Column("colour", "categorical", categories=("red", "green", "blue")), Column("flag", "boolean")))
    *_, facts = fit_polars(path, schema, MST(estimation_iters=10), PrivacyBudget.from_rho(0.5))
    assert facts["rows_set_aside_by_person_bound"] == 0


# -- AIM through an external counting engine ---------------------------------------------------
def test_aim_counts_through_the_engine_hook_what_memory_counts():
    """AIM with a counter receives every workload clique (one-way included) and fits from those
    counts: with the in-memory codes as the counter, the counts handed to OpenDP are the memory ones."""
    from synthgen.synthesizers import AIM
    from synthgen.synthesizers.marginal import fit_marginal_encoded

    frame = read_table_cached()
    bounded = bound_rows_per_person(frame, SCHEMA.privacy_unit)
    codes = encode(bounded.frame, SCHEMA).codes
    lf = pl.LazyFrame({k: pl.Series(k, v, dtype=pl.Int64) for k, v in codes.items()})
    calls = []

    def counter(cliques, sizes):
        calls.append(list(cliques))
        return polars_counts(lf, cliques, sizes, one_at_a_time=True)

    placeholder = pl.LazyFrame({n: pl.Series(n, [], dtype=pl.Int64) for n in NAMES})
    config = AIM(rounds=6, estimation_iters=20)
    budget = PrivacyBudget.from_rho(0.5)
    _s, rows, details = fit_marginal_encoded(placeholder, SCHEMA, config, budget, engine="polars", counter=counter)
    assert len(calls) == 1
    assert {frozenset(c) for c in calls[0]} == {frozenset(c) for r in (1, 2) for c in itertools.combinations(NAMES, r)}
    # the noisy total comes from those counts (an empty frame would give about 0)
    assert abs(rows - len(codes[NAMES[0]])) < 0.25 * len(codes[NAMES[0]])
    assert budget.rho * (1 - 1e-8) <= details["rho_consumed"] <= budget.rho


def test_aim_on_every_engine_spends_the_same_budget(table, spark):
    from synthgen.synthesizers import AIM

    budget = PrivacyBudget.from_epsilon(1.0, 1e-9)
    config = AIM(rounds=6, estimation_iters=20)
    memory = fit(read_table(table), SCHEMA, config, budget)
    out_of_core = fit_file(table, SCHEMA, config, budget, engine="polars")
    on_spark = fit_file(table, SCHEMA, config, budget, engine="spark", spark=spark)
    rho = memory.info["accounting"]["rho_consumed"]
    for model in (out_of_core, on_spark):
        assert model.info["accounting"]["rho_consumed"] == pytest.approx(rho, rel=1e-8)
        assert model.info["accounting"]["rho_consumed"] <= budget.rho
        assert model.info["accounting"]["contributions"] == 2
        assert model.data_owner_facts == memory.data_owner_facts
    assert (out_of_core.info["engine"], on_spark.info["engine"]) == ("polars", "spark")


_CACHE: dict = {}


def read_table_cached():
    if "t" not in _CACHE:
        rng = np.random.default_rng(3)
        n = 400
        pid = rng.integers(0, 120, size=n).astype(float)
        _CACHE["t"] = pd.DataFrame({"pid": pid, "colour": rng.choice(["red", "green", "blue"], size=n).astype(object),
                                    "age": rng.integers(0, 100, size=n), "flag": rng.choice(["true", "false"], size=n)})
    return _CACHE["t"]


def test_cli_fit_out_of_core_tells_the_owner_what_the_bound_set_aside(table, tmp_path, capsys):
    from synthgen.cli import main

    schema_path, out = tmp_path / "s.json", tmp_path / "m.zip"
    SCHEMA.save(schema_path)
    _expected, (over, without) = _memory(table)
    assert main(["fit", str(table), "--schema", str(schema_path), "--synthesizer", "mst", "--epsilon", "1",
                 "--engine", "polars", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"the person-level bound set aside {over + without} rows ({over} beyond" in err
    assert f"{without} without a person id" in err and "not written to the model file" in err
