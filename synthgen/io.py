"""Reading and writing tables and files.

Tables are CSV (an empty cell means missing) or Parquet; nothing is ever read or written with
pickle. Files are written temp-file → fsync → rename, so a crash never leaves a partial file
under its final name.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from pathlib import Path

import pandas as pd

from synthgen.errors import TableReadError

TABLE_SUFFIXES = (".csv", ".parquet")


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # some filesystems do not allow opening directories
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` so that readers see either the old file or the whole new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_text(path: Path, text: str, mode: int = 0o644) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), mode)


def _check_columns(columns: list, source: str) -> None:
    names = [str(c) for c in columns]
    if not names:
        raise TableReadError(f"{source} has no columns")
    blank = [i + 1 for i, n in enumerate(names) if not n.strip()]
    if blank:
        raise TableReadError(f"{source}: header cell {blank[0]} is empty; every column needs a name")
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise TableReadError(f"{source}: column name {name!r} appears more than once in the header")
        seen.add(name)


def read_csv_bytes(data: bytes, source: str = "CSV file") -> pd.DataFrame:
    """Parse CSV bytes strictly: UTF-8, a header, rectangular rows, no NUL bytes."""
    if not data.strip():
        raise TableReadError(f"{source} is empty")
    if b"\x00" in data:
        raise TableReadError(f"{source} contains NUL bytes; it looks like a binary file, not CSV")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TableReadError(f"{source} is not valid UTF-8 (byte offset {exc.start})") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        raise TableReadError(f"{source} has no readable header row ({exc})") from None
    _check_columns(header, source)
    width = len(header)
    try:
        for line_no, row in enumerate(reader, start=2):
            if row and len(row) != width:
                raise TableReadError(
                    f"{source}: row {line_no} has {len(row)} fields but the header has {width}"
                )
    except csv.Error as exc:
        raise TableReadError(f"{source} is not well-formed CSV: {exc}") from None
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            keep_default_na=False,
            na_values=[""],
            dtype=str,
            skip_blank_lines=True,
        )
    except (pd.errors.ParserError, ValueError) as exc:
        raise TableReadError(f"{source} is not well-formed CSV: {exc}") from None
    return _infer_types(frame)


def _infer_types(frame: pd.DataFrame) -> pd.DataFrame:
    """Turn all-text columns into numbers where every non-missing cell is a number."""
    out = {}
    for name in frame.columns:
        col = frame[name]
        numeric = pd.to_numeric(col, errors="coerce")
        if numeric.notna().sum() == col.notna().sum():
            if numeric.notna().all() and (numeric % 1 == 0).all():
                numeric = numeric.astype("int64")
            out[name] = numeric
        else:
            out[name] = col.astype(object)
    return pd.DataFrame(out, index=frame.index)


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet file, with a clear error when it is not a table."""
    path = Path(path)
    if not path.exists():
        raise TableReadError(f"file {str(path)!r} does not exist")
    if path.is_dir():
        raise TableReadError(f"{str(path)!r} is a directory, not a table file")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return read_csv_bytes(path.read_bytes(), source=f"{path.name}")
    if suffix == ".parquet":
        return read_parquet_bytes(path.read_bytes(), source=path.name)
    raise TableReadError(f"file {path.name!r} must end in .csv or .parquet")


def read_parquet_bytes(data: bytes, source: str = "Parquet file") -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(io.BytesIO(data))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise TableReadError(f"{source} is not a readable Parquet file ({exc.__class__.__name__})") from None
    _check_columns(table.column_names, source)
    return table.to_pandas()


def table_to_bytes(frame: pd.DataFrame, fmt: str) -> bytes:
    if fmt == "csv":
        return frame.to_csv(index=False).encode("utf-8")
    if fmt == "parquet":
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        return buf.getvalue()
    raise TableReadError(f"format ({fmt!r}) must be csv or parquet")


def write_table(frame: pd.DataFrame, path: str | Path) -> None:
    path = Path(path)
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in ("csv", "parquet"):
        raise TableReadError(f"output file {path.name!r} must end in .csv or .parquet")
    atomic_write_bytes(path, table_to_bytes(frame, suffix))
