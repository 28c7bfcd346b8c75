"""Where the private rows are counted: in memory, out of core with Polars, or on Spark.

For a marginal synthesizer the only computation on private rows is counting marginals; noise and
accounting are OpenDP's whatever the engine:

* ``memory``: the table is read into pandas, bounded per person and encoded (synthgen.encoding);
  OpenDP counts the codes with Polars.
* ``polars``: the table is scanned lazily (synthgen.lazy), encoded in a streaming pass into a
  temporary Parquet file of small integer codes (in a private temporary directory, deleted after
  the fit), and OpenDP counts each marginal reading only the columns it needs. The table is never
  loaded whole.
* ``spark``: the table is read and encoded by Spark (the same row-wise encoding, run per batch by
  ``mapInPandas``), and all exact marginals the synthesizer asks for (MST or AIM) are counted in
  one Spark job (``GROUPING SETS``). The counts go straight into OpenDP's marginal transformation on the driver,
  where OpenDP adds the noise: only noisy marginals leave the fit. The stability map, the noise
  scales and the composition are OpenDP's own, so the accounting is that of the other engines.

Person-level units (at most ``max_rows`` rows per person, rows without a person id left out)
are applied by every engine with the rule of synthgen.encoding.bound_rows_per_person, before the
codes are counted: ``polars`` ranks each person's rows in one lazy pass over the person column
(synthgen.lazy.person_bound_mask), ``spark`` with a window ``row_number()`` over the person in
table order. Each engine returns the exact counts of rows set aside, for the data owner only.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from synthgen.errors import InvalidInputError
from synthgen.schema import Schema

ENGINES = ("memory", "polars", "spark")

Progress = Callable[[float, str], None]


def check_engine(engine: str, config) -> None:
    if engine not in ENGINES:
        raise InvalidInputError(f"engine ({engine!r}) must be one of {', '.join(ENGINES)}")
    if engine != "memory" and not config.dp:
        raise InvalidInputError(f"engine {engine} is for the DP synthesizers; {config.name} fits in memory")


def counts_to_arrays(rows: dict[tuple[int, ...], int], clique: tuple[str, ...], sizes: dict[str, int]) -> np.ndarray:
    """Dense ``int32`` count table of a clique, as OpenDP's marginal transformation builds it."""
    table = np.zeros(tuple(sizes[c] for c in clique), dtype=np.int32)
    for cell, n in rows.items():
        table[cell] = min(int(n), np.iinfo(np.int32).max)
    return table


def polars_counts(
    data, cliques: list[tuple[str, ...]], sizes: dict[str, int], *, one_at_a_time: bool = False
) -> dict[tuple[str, ...], np.ndarray]:
    """Exact marginals of encoded codes with Polars (the embedded engine's counting).

    ``one_at_a_time`` counts one clique per query, so that a scanned file is read two columns at
    a time: OpenDP's own ``collect_all`` of every marginal at once peaked at 6.1 GB on 10 million
    rows (benchmarks/README.md)."""
    import polars as pl

    queries = [data.group_by(list(c)).agg(pl.len()) for c in cliques]
    frames = [q.collect() for q in queries] if one_at_a_time else pl.collect_all(queries)
    out = {}
    for clique, frame in zip(cliques, frames):
        cells = zip(*(frame[c].to_list() for c in clique), frame["len"].to_list())
        out[clique] = counts_to_arrays({tuple(row[:-1]): row[-1] for row in cells}, clique, sizes)
    return out


def owner_facts(over: int, without: int) -> dict[str, int]:
    """What the person-level bound set aside, as FittedModel.data_owner_facts holds it: exact
    counts of the private table for the data owner and reviewing officers only."""
    return {"rows_set_aside_by_person_bound": over + without, "rows_over_person_limit": over,
            "rows_without_person_id": without}


# -- polars: out of core --------------------------------------------------------------------
def fit_polars(path: str | Path, schema: Schema, config, budget, *, progress: Progress | None = None):
    import polars as pl

    from synthgen.lazy import encode_to_parquet, person_bound_mask, scan_table
    from synthgen.synthesizers.marginal import fit_marginal_encoded

    report = progress or (lambda f, m: None)
    keep, facts = None, owner_facts(0, 0)
    if schema.privacy_unit.person_column is not None:
        report(0.01, "bounding the rows of each person")
        keep, over, without = person_bound_mask(scan_table(path), schema.privacy_unit)
        facts = owner_facts(over, without)
    # The codes are private data: a temporary directory readable by this user only, removed after.
    with tempfile.TemporaryDirectory(prefix="synthgen-codes-") as tmp:
        codes = Path(tmp) / "codes.parquet"
        report(0.02, "encoding the table with the public schema (slice by slice)")
        encode_to_parquet(path, schema, codes, small=True, keep=keep)  # Int16: only our counter reads them
        data = pl.scan_parquet(codes)
        # the counts come through the same hook as Spark's, one marginal per scan (memory)
        placeholder = pl.LazyFrame({c.name: pl.Series(c.name, [], dtype=pl.Int64) for c in schema.synthesized_columns})

        def counter(cliques, sizes):
            return polars_counts(data, cliques, sizes, one_at_a_time=True)

        return (*fit_marginal_encoded(placeholder, schema, config, budget, progress=progress, engine="polars", counter=counter),
                facts)


# -- spark ------------------------------------------------------------------------------------
def spark_read_table(spark, path: str | Path):
    """A Spark DataFrame of a CSV (header, empty cell missing, all-number columns as numbers, as
    synthgen.io reads it) or Parquet file."""
    from pyspark.sql import functions as F

    path = str(path)
    if path.lower().endswith(".parquet"):
        return spark.read.parquet(path)
    if not path.lower().endswith(".csv"):
        raise InvalidInputError(f"file {Path(path).name!r} must end in .csv or .parquet")
    df = spark.read.csv(path, header=True, inferSchema=False, encoding="UTF-8")
    checks = df.select([
        (F.count(F.col(f"`{c}`")) == F.count(F.col(f"`{c}`").try_cast("double"))).alias(f"c{i}") for i, c in enumerate(df.columns)
    ]).first()
    numeric = [c for i, c in enumerate(df.columns) if checks[f"c{i}"]]
    return df.select([F.col(f"`{c}`").try_cast("double").alias(c) if c in numeric else F.col(f"`{c}`") for c in df.columns])


def spark_encode(df, schema: Schema):
    """Encode a Spark DataFrame with synthgen.encoding.encode, batch by batch (a row-wise map).
    Person-level schemas go through :func:`spark_encode_bounded`."""
    from pyspark.sql.types import LongType, StructField, StructType

    if schema.privacy_unit.person_column is not None:
        raise InvalidInputError(
            f"privacy_unit.person_column ({schema.privacy_unit.person_column!r}): bound each person's rows first "
            "(spark_encode_bounded)"
        )
    schema_json = schema.to_json()
    names = [c.name for c in schema.synthesized_columns]
    out_type = StructType([StructField(n, LongType(), False) for n in names])

    def encode_batches(batches):
        import pandas as pd

        from synthgen.encoding import encode
        from synthgen.schema import Schema as _Schema

        local = _Schema.from_json(schema_json)
        for batch in batches:
            encoded = encode(batch, local)
            yield pd.DataFrame({n: encoded.codes[n] for n in names})

    return df.mapInPandas(encode_batches, schema=out_type)


def spark_encode_bounded(df, schema: Schema) -> tuple[Any, dict[str, int]]:
    """Encode under a person-level unit: the rule of synthgen.encoding.bound_rows_per_person on
    Spark. Each row gets its position in the table, the person id as normalise_category writes it
    and its codes (all rows, fitting or not: the bound is applied before rows that do not fit are
    left out, as in memory); a window ``row_number()`` over the person in table order keeps the
    first ``max_rows`` rows of each person, and rows without a person id are left out. Returns the
    encoded rows and the exact counts set aside (owner-only)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    unit = schema.privacy_unit
    schema_json = schema.to_json()
    names = [c.name for c in schema.synthesized_columns]
    person = unit.person_column
    if person not in df.columns:
        raise InvalidInputError(f"privacy_unit.person_column ({person!r}) is not a column of the table")
    # monotonically increasing ids follow the partitions in file order and the rows within each
    rid, pid = "_synthgen_row", "_synthgen_person"
    with_rid = df.withColumn(rid, F.monotonically_increasing_id())
    out_type = StructType(
        [StructField(n, LongType(), False) for n in names]
        + [StructField(pid, StringType(), True), StructField(rid, LongType(), False)]
    )

    def encode_batches(batches):
        import pandas as pd

        from synthgen.encoding import encode_column
        from synthgen.schema import Schema as _Schema
        from synthgen.schema import normalise_category

        local = _Schema.from_json(schema_json)
        for batch in batches:
            out = {c.name: encode_column(c, batch[c.name])[0] for c in local.synthesized_columns}
            out[pid] = batch[person].map(normalise_category).astype(object)
            out[rid] = batch[rid].to_numpy()
            yield pd.DataFrame(out)

    encoded = with_rid.mapInPandas(encode_batches, schema=out_type)
    # not cached here: the caller caches the kept codes, and a cache of every row (with person
    # ids) would stay in the executors' memory until the session ends
    ranked = encoded.withColumn("_synthgen_rank", F.row_number().over(Window.partitionBy(pid).orderBy(rid)))
    counts = ranked.agg(
        F.sum(F.col(pid).isNull().cast("long")).alias("without"),
        F.sum((F.col(pid).isNotNull() & (F.col("_synthgen_rank") > unit.max_rows)).cast("long")).alias("over"),
    ).first()
    kept = ranked.filter(F.col(pid).isNotNull() & (F.col("_synthgen_rank") <= unit.max_rows))
    fits = F.lit(True)
    for n in names:  # rows that do not fit the schema are left out after the bound, as in memory
        fits = fits & (F.col(f"`{n}`") >= 0)
    return kept.filter(fits).select([F.col(f"`{n}`") for n in names]), owner_facts(int(counts["over"] or 0), int(counts["without"] or 0))


class SparkCounter:
    """Exact marginals of Spark-encoded codes, all cliques in one ``GROUPING SETS`` job.

    ``sizes`` gives each column's table length: the schema's cardinality, or OpenDP's (one more,
    for a null key no code ever takes) when OpenDP asks."""

    def __init__(self, encoded, names: list[str]):
        self.encoded = encoded
        self.names = list(names)
        self.jobs = 0

    def __call__(self, cliques: list[tuple[str, ...]], sizes: dict[str, int]) -> dict[tuple[str, ...], np.ndarray]:
        names = self.names
        sets = ", ".join("(" + ", ".join(f"`{c}`" for c in clique) + ")" for clique in cliques)
        view = f"synthgen_codes_{id(self)}"
        self.encoded.createOrReplaceTempView(view)
        spark = self.encoded.sparkSession
        try:
            cols = ", ".join(f"`{c}`" for c in names)
            rows = spark.sql(
                f"SELECT {cols}, grouping_id({cols}) AS gid, count(*) AS n FROM {view} GROUP BY GROUPING SETS ({sets})"
            ).collect()
        finally:
            spark.catalog.dropTempView(view)
        self.jobs += 1
        # grouping_id sets bit (k-1-i) for every column i NOT in the grouping set
        k = len(names)
        by_set: dict[frozenset, dict[tuple[int, ...], int]] = {}
        for row in rows:
            present = frozenset(names[i] for i in range(k) if not (row["gid"] >> (k - 1 - i)) & 1)
            by_set.setdefault(present, {})
            by_set[present][tuple(row[c] for c in names if c in present)] = row["n"]
        out = {}
        for clique in cliques:
            cells = by_set.get(frozenset(clique), {})
            ordered = [c for c in names if c in clique]
            # reorder the cell index from schema order to the clique's order
            perm = [ordered.index(c) for c in clique]
            out[clique] = counts_to_arrays({tuple(cell[i] for i in perm): n for cell, n in cells.items()}, clique, sizes)
        return out


def fit_spark(path_or_df: Any, schema: Schema, config, budget, *, spark=None, progress: Progress | None = None):
    """Fit MST or AIM with Spark counting the marginals of ``path_or_df`` (a file path or a Spark DataFrame)."""
    import polars as pl

    from synthgen.synthesizers.marginal import fit_marginal_encoded

    if spark is None:
        from pyspark.sql import SparkSession

        spark = SparkSession.builder.appName("synthgen").getOrCreate()
    df = spark_read_table(spark, path_or_df) if isinstance(path_or_df, (str, Path)) else path_or_df
    if schema.privacy_unit.person_column is not None:
        encoded, facts = spark_encode_bounded(df, schema)
        encoded = encoded.cache()
    else:
        encoded, facts = spark_encode(df, schema).cache(), owner_facts(0, 0)
    sizes = {c.name: c.cardinality for c in schema.synthesized_columns}
    try:
        # OpenDP needs a frame with the codes' columns to build its domain; it gets no rows,
        # because every count comes from the counter (MST and AIM with every column keyed never
        # read the frame itself: synthgen.synthesizers._opendp_mst and _aim).
        placeholder = pl.LazyFrame({n: pl.Series(n, [], dtype=pl.Int64) for n in sizes})
        return (*fit_marginal_encoded(
            placeholder, schema, config, budget, progress=progress, engine="spark", counter=SparkCounter(encoded, list(sizes))
        ), facts)
    finally:
        encoded.unpersist()
