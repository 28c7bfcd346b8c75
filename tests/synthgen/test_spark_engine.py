"""The Spark engine counts exactly what the embedded engine counts, and a fit through Spark is
accounted exactly as an embedded fit (pyspark local[2] with the machine's Java)."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from synthgen.budget import PrivacyBudget
from synthgen.encoding import encode
from synthgen.engines import SparkCounter, fit_spark, polars_counts, spark_encode, spark_read_table
from synthgen.io import read_table
from synthgen.synthesizers import MST, fit

from .helpers import titanic_small

pytestmark = [
    pytest.mark.slow,
    # py4j leaves its gateway sockets to the garbage collector; not ours to close
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local[2]").appName("synthgen-tests")
        .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.memory", "1g").config("spark.ui.showConsoleProgress", "false").getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture()
def titanic_csv(tmp_path):
    frame, schema = titanic_small()
    path = tmp_path / "titanic.csv"
    frame.to_csv(path, index=False)
    return path, schema


def test_spark_counts_equal_the_embedded_counts(spark, titanic_csv):
    import itertools

    import polars as pl

    path, schema = titanic_csv
    names = [c.name for c in schema.synthesized_columns]
    sizes = {c.name: c.cardinality for c in schema.synthesized_columns}
    cliques = [(n,) for n in names] + list(itertools.combinations(names, 2)) + [tuple(reversed(names[:3]))]
    counter = SparkCounter(spark_encode(spark_read_table(spark, path), schema), names)
    from_spark = counter(cliques, sizes)
    encoded = encode(read_table(path), schema)
    lf = pl.LazyFrame({k: pl.Series(k, v, dtype=pl.Int64) for k, v in encoded.codes.items()})
    embedded = polars_counts(lf, cliques, sizes)
    assert counter.jobs == 1
    for clique in cliques:
        assert from_spark[clique].shape == tuple(sizes[c] for c in clique)
        assert np.array_equal(from_spark[clique], embedded[clique]), clique
    assert from_spark[(names[0],)].sum() == len(encoded.codes[names[0]])


def test_a_fit_through_spark_is_accounted_like_an_embedded_fit(spark, titanic_csv):
    path, schema = titanic_csv
    budget = PrivacyBudget.from_epsilon(1.0, 1e-9)
    config = MST(estimation_iters=100)
    sampler, rows, details, _facts = fit_spark(path, schema, config, budget, spark=spark)
    embedded = fit(read_table(path), schema, config, budget)
    assert details["engine"] == "spark"
    assert details["rho_consumed"] == embedded.info["accounting"]["rho_consumed"]
    assert details["contributions"] == embedded.info["accounting"]["contributions"]
    assert len(details["measured_cliques"]) == len(embedded.info["accounting"]["measured_cliques"])
    # the noisy total estimates the real size: the counts did reach OpenDP through Spark
    assert abs(rows - len(read_table(path))) < 0.2 * len(read_table(path))
