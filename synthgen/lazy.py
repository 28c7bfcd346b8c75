"""Encoding a table out of core: the schema's row-wise encoding as Polars lazy expressions.

``encode_lazy(scan_table(path), schema)`` gives the same integer codes as
:func:`synthgen.encoding.encode` on the whole table in pandas, without loading the table: Polars
streams the file, and a marginal is counted by reading only the columns it needs. The rules are
the same (see synthgen.encoding): values outside the bounds are clipped; a missing or unknown
value becomes ``<missing>`` when the column is nullable, otherwise the row is left out. Every rule
looks at one row at a time, so the map costs no privacy.

A person-level privacy unit (at most ``max_rows`` rows per person) needs each person's rows
together: :func:`person_bound_mask` ranks the rows of each person in table order in one lazy pass
over the person column alone (``int_range().over(person)``), with the rule of
synthgen.encoding.bound_rows_per_person (the first ``max_rows`` rows of each person are kept, rows
without a person id are left out), and :func:`encode_to_parquet` drops the other rows slice by
slice before encoding. The counts of rows set aside are exact: for the data owner only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from synthgen.encoding import check_column_names
from synthgen.errors import InvalidInputError, TableReadError
from synthgen.schema import Column, PrivacyUnit, Schema

_TRUE = ["true", "1", "yes", "y", "t"]
_FALSE = ["false", "0", "no", "n", "f"]
_LEADING_NUMBER = r"^\s*(-?\d+(?:\.\d*)?)"


def scan_table(path: str | Path) -> pl.LazyFrame:
    """A lazy scan of a CSV (every cell read as text, an empty cell missing) or Parquet file."""
    path = Path(path)
    if not path.is_file():
        raise TableReadError(f"file {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return pl.scan_parquet(path)
    if suffix == ".csv":
        return _numbers_as_numbers(pl.scan_csv(path, infer_schema=False, encoding="utf8"))
    raise TableReadError(f"file {path.name!r} must end in .csv or .parquet")


def _numbers_as_numbers(text: pl.LazyFrame) -> pl.LazyFrame:
    """Read a text column as numbers when every non-missing cell is a number, as
    synthgen.io.read_csv_bytes does, so both readers name categories the same ("007" is 7).
    One streaming pass over the file."""
    names = text.collect_schema().names()
    check = text.select([
        (pl.col(n).cast(pl.Float64, strict=False).null_count() == pl.col(n).null_count()).alias(n) for n in names
    ]).collect(engine="streaming")
    numeric = [n for n in names if check[n][0]]
    return text.with_columns([pl.col(n).cast(pl.Float64, strict=False) for n in numeric])


def _normalised(name: str, dtype: pl.DataType) -> pl.Expr:
    """Text of each value as synthgen.schema.normalise_category writes it (None when missing)."""
    col = pl.col(name)
    if dtype == pl.String:
        return pl.when(col == "").then(None).otherwise(col)
    if dtype == pl.Boolean:
        return pl.when(col.is_null()).then(None).when(col).then(pl.lit("true")).otherwise(pl.lit("false"))
    if dtype.is_integer():
        return col.cast(pl.String)
    if dtype.is_float():
        whole = col.cast(pl.Int64, strict=False).cast(pl.String)
        return pl.when(col.is_null() | col.is_nan()).then(None).when(col == col.floor()).then(whole).otherwise(col.cast(pl.String))
    return col.cast(pl.String)


def _numbers(name: str, dtype: pl.DataType) -> pl.Expr:
    col = pl.col(name)
    if dtype == pl.String:
        return col.cast(pl.Float64, strict=False)
    return col.cast(pl.Float64, strict=False)


def _seconds(name: str, dtype: pl.DataType) -> pl.Expr:
    col = pl.col(name)
    if dtype == pl.String:
        parsed = col.str.to_datetime(strict=False, time_unit="us")
    elif isinstance(dtype, (pl.Datetime, pl.Date)):
        parsed = col.cast(pl.Datetime("us"))
    else:
        return col.cast(pl.Float64, strict=False)
    return parsed.dt.epoch("ms").cast(pl.Float64) / 1000.0


def _missing_code(col: Column) -> int:
    return col.cardinality - 1 if col.nullable else -1


def _categorical(col: Column, dtype: pl.DataType) -> pl.Expr:
    text = _normalised(col.name, dtype)
    missing = _missing_code(col)
    if col.code_list is not None:
        number = text.str.extract(_LEADING_NUMBER, 1).cast(pl.Float64, strict=False).floor()
        chain = None
        for i, group in enumerate(col.code_list.groups):
            if group.prefix is not None:
                cond = text.str.to_uppercase().str.starts_with(group.prefix.upper())
            else:
                cond = (number >= group.low) & (number <= group.high)
            chain = pl.when(cond.fill_null(False)).then(pl.lit(i, pl.Int64)) if chain is None else chain.when(cond.fill_null(False)).then(pl.lit(i, pl.Int64))
        mapped = chain.otherwise(pl.lit(missing, pl.Int64))
    else:
        from synthgen.schema import normalise_category

        old = [normalise_category(c) for c in col.categories or ()]
        # a selected top-k column maps every other present value to "other", its last category
        default = len(old) - 1 if col.top_k is not None else missing
        mapped = text.replace_strict(old, list(range(len(old))), default=default, return_dtype=pl.Int64)
    return pl.when(text.is_null()).then(pl.lit(missing, pl.Int64)).otherwise(mapped)


def _boolean(col: Column, dtype: pl.DataType) -> pl.Expr:
    missing = _missing_code(col)
    c = pl.col(col.name)
    if dtype == pl.Boolean:
        return pl.when(c.is_null()).then(pl.lit(missing, pl.Int64)).otherwise(c.cast(pl.Int64))
    if dtype.is_float():
        text = pl.when(c.is_nan()).then(None).otherwise(c.cast(pl.String))
    else:
        text = c.cast(pl.String)
    text = text.str.strip_chars().str.to_lowercase()
    return (
        pl.when(text.is_in(_TRUE)).then(pl.lit(1, pl.Int64))
        .when(text.is_in(_FALSE)).then(pl.lit(0, pl.Int64))
        .otherwise(pl.lit(missing, pl.Int64))
    )


def _binned(col: Column, dtype: pl.DataType) -> pl.Expr:
    numbers = _seconds(col.name, dtype) if col.kind == "datetime" else _numbers(col.name, dtype)
    edges = col.edges()
    interior = edges[1:-1]
    clipped = numbers.clip(edges[0], edges[-1])
    code = pl.lit(0, pl.Int64)
    for cut in interior:  # right-open bins: the code is the number of interior edges <= value
        code = code + (clipped >= cut).cast(pl.Int64)
    present = numbers.is_not_null() & numbers.is_not_nan()
    out = pl.when(present).then(code).otherwise(pl.lit(_missing_code(col), pl.Int64))
    special = list(col.codes or ()) if col.kind == "numeric" else []
    if special:
        text = _normalised(col.name, dtype)
        n_bins = len(edges) - 1
        for j, value in enumerate(special):
            out = pl.when(text == value).then(pl.lit(n_bins + j, pl.Int64)).otherwise(out)
    return out


def column_expression(col: Column, dtype: pl.DataType) -> pl.Expr:
    if col.kind == "categorical":
        expr = _categorical(col, dtype)
    elif col.kind == "boolean":
        expr = _boolean(col, dtype)
    else:
        expr = _binned(col, dtype)
    return expr.alias(col.name)


def person_bound_mask(frame: pl.LazyFrame, unit: PrivacyUnit) -> tuple[np.ndarray, int, int]:
    """Which rows (in table order) the person-level bound keeps, the rows beyond ``max_rows`` of
    their person and the rows without a person id: synthgen.encoding.bound_rows_per_person's rule,
    computed lazily from the person column alone. The counts are exact (owner-only)."""
    person = unit.person_column
    dtypes = frame.collect_schema()
    if person not in dtypes.names():
        raise InvalidInputError(f"privacy_unit.person_column ({person!r}) is not a column of the table")
    # the person id as normalise_category writes it, so that 7, 7.0 and "7" are one person
    ids = frame.select(_normalised(person, dtypes[person]).alias("p"))
    # rank of each row among its person's rows, in table order (window expressions keep it)
    ranked = ids.select(
        pl.col("p").is_null().alias("no_id"),
        (pl.int_range(pl.len(), dtype=pl.Int64).over("p") < unit.max_rows).alias("within"),
    ).collect()
    no_id = ranked["no_id"].to_numpy()
    keep = ~no_id & ranked["within"].to_numpy()
    return keep, int((~no_id & ~keep).sum()), int(no_id.sum())


def encode_lazy(frame: pl.LazyFrame, schema: Schema, *, bounded: bool = False) -> pl.LazyFrame:
    """Integer codes of the synthesized columns, rows that do not fit left out (lazy).

    ``bounded``: the caller has already applied the person-level bound (``person_bound_mask``);
    without it, a person-level schema is refused rather than measured with unbounded rows."""
    if schema.privacy_unit.person_column is not None and not bounded:
        raise InvalidInputError(
            f"privacy_unit.person_column ({schema.privacy_unit.person_column!r}): bound each person's rows first "
            "(person_bound_mask, as encode_to_parquet does)"
        )
    schema.require_top_k_selected()
    dtypes = frame.collect_schema()
    table_cols = list(dtypes.names())
    check_column_names(table_cols, schema)
    columns = schema.synthesized_columns
    encoded = frame.select([column_expression(c, dtypes[c.name]) for c in columns])
    return encoded.filter(pl.all_horizontal([pl.col(c.name) >= 0 for c in columns]))


def _batches(path: Path, batch_rows: int):
    """Record batches of a CSV or Parquet file, read a slice at a time, typed as scan_table types them."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if path.suffix.lower() == ".parquet":
        yield from pq.ParquetFile(path).iter_batches(batch_size=batch_rows)
        return
    scanned = scan_table(path)  # one streaming pass decides which columns are numbers
    dtypes = scanned.collect_schema()
    names = dtypes.names()
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=64 << 20),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names}, strings_can_be_null=True, null_values=[""],
        ),
    )
    numeric = [n for n in names if dtypes[n] == pl.Float64]
    for batch in reader:
        frame = pl.from_arrow(pa.Table.from_batches([batch]))
        yield frame.with_columns([pl.col(n).cast(pl.Float64, strict=False) for n in numeric]).to_arrow()


def encode_to_parquet(
    path: str | Path, schema: Schema, out: str | Path, *, batch_rows: int = 500_000, small: bool = False,
    keep: np.ndarray | None = None,
) -> int:
    """Encode a CSV or Parquet file into a Parquet file of codes, one slice of rows at a time, so
    that memory stays bounded by one slice (Polars' streaming sink of the same plan held the whole
    10-million-row table: 3.2 GB). ``small`` stores the codes as Int16 (every schema domain fits).
    ``keep`` (from ``person_bound_mask``, one flag per row in table order) applies the
    person-level bound before encoding, as the in-memory engine does. Returns the number of rows kept."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_file():
        raise TableReadError(f"file {str(path)!r} does not exist")
    if schema.privacy_unit.person_column is not None and keep is None:
        keep = person_bound_mask(scan_table(path), schema.privacy_unit)[0]
    writer = None
    kept = 0
    offset = 0
    try:
        for batch in _batches(path, batch_rows):
            frame = pl.from_arrow(batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch]))
            if keep is not None:
                frame = frame.filter(pl.Series(keep[offset:offset + frame.height]))
                offset += batch.num_rows
            codes = encode_lazy(frame.lazy(), schema, bounded=keep is not None)
            if small:
                codes = codes.with_columns(pl.all().cast(pl.Int16))
            table = codes.collect().to_arrow()
            if writer is None:
                writer = pq.ParquetWriter(str(out), table.schema)
            writer.write_table(table.cast(writer.schema))
            kept += table.num_rows
        if writer is None:  # an empty file: write the empty codes table
            encode_lazy(scan_table(path), schema, bounded=True).collect().write_parquet(out)
    finally:
        if writer is not None:
            writer.close()
    return kept
