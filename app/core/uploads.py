"""Validation of uploaded table files, assuming the uploader is hostile (pure).

:func:`validate_upload` checks the cheap things first — the file name, the byte size, binary
content, the header's column count, every cell's size and the row count — and only then parses
the table with :func:`synthgen.io.read_csv_bytes` / :func:`synthgen.io.read_parquet_bytes`.
The returned DataFrame is re-checked against the limits, so a parser disagreement can never
smuggle an oversized table through.

Every rejection is an :class:`UploadRejected` whose message is meant for the uploader and whose
``reason`` is a short machine code (safe to put in the audit log). Messages name positions,
counts and column names, never cell values.

Formula-looking cells (``=SUM(...)``, ``+1``, ``-x``, ``@x``) are ordinary values and are
accepted; :func:`escape_formula` neutralises them when text is exported to CSV for humans.
"""

from __future__ import annotations

import csv
import io
import posixpath
import re
import unicodedata
from dataclasses import dataclass

import pandas as pd

from synthgen.errors import InvalidInputError, TableReadError
from synthgen.io import read_csv_bytes, read_parquet_bytes

__all__ = [
    "UploadLimits",
    "UploadRejected",
    "validate_upload",
    "check_filename",
    "safe_display_name",
    "escape_formula",
    "FORMULA_PREFIXES",
]

# Python's csv module refuses fields longer than this many characters unless the process-wide
# csv.field_size_limit() is raised (global state we do not touch); so it caps max_cell_bytes.
CSV_FIELD_LIMIT = 131072
# OWASP CSV-injection starters, plus newline, pipe (DDE) and percent (encoded payloads)
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n", "|", "%")
_ALLOWED_SUFFIXES = (".csv", ".parquet")
_PARQUET_MAGIC = b"PAR1"
# C0 control bytes other than TAB, LF, CR (and DEL) do not occur in text tables.
_BINARY_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_QUOTED = re.compile(r'"[^"]*"')


class UploadRejected(InvalidInputError):
    """An uploaded file was refused; ``str(exc)`` is meant for the uploader."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class UploadLimits:
    max_bytes: int = 200 * 1024 * 1024
    max_columns: int = 500
    max_rows: int = 5_000_000
    max_cell_bytes: int = 64 * 1024
    max_name_length: int = 128  # file name length, in characters (column names: max_cell_bytes)
    # Parquet is compressed: bound what it may expand to (cell bytes of text columns plus
    # the uncompressed column chunks) so a small file cannot exhaust memory.
    max_expanded_bytes: int = 2 * 1024 * 1024 * 1024

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_columns", "max_rows", "max_cell_bytes", "max_name_length", "max_expanded_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidInputError(f"{name} ({value!r}) must be a positive integer")
        if self.max_cell_bytes > CSV_FIELD_LIMIT:
            raise InvalidInputError(
                f"max_cell_bytes ({self.max_cell_bytes}) must be at most {CSV_FIELD_LIMIT} (the CSV parser's field limit)"
            )


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"


# --------------------------------------------------------------------------- file names


def check_filename(filename: str, limits: UploadLimits) -> str:
    """Return the lower-case suffix (``.csv``/``.parquet``) or raise :class:`UploadRejected`.

    A file name is only a label: it must be a plain base name (no directories, no ``..``, not
    absolute, no drive letter), with no control or invisible formatting characters (e.g. the
    right-to-left override used to disguise extensions), and end in ``.csv`` or ``.parquet``.
    """
    if not isinstance(filename, str) or not filename:
        raise UploadRejected("the file has no name; upload a .csv or .parquet file", "bad_filename")
    shown = filename if len(filename) <= 64 else filename[:61] + "..."  # shown with repr(): escapes controls
    if len(filename) > limits.max_name_length:
        raise UploadRejected(
            f"file name ({len(filename)} characters) must be at most {limits.max_name_length} characters",
            "bad_filename",
        )
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp") for ch in filename):
        raise UploadRejected(
            f"file name {shown!r} contains control or invisible characters; rename the file", "bad_filename"
        )
    if "/" in filename or "\\" in filename or ":" in filename:
        raise UploadRejected(
            f"file name {shown!r} must be a plain file name without directories, drive letters or ':'",
            "bad_filename",
        )
    if filename in (".", "..") or filename.startswith(".") or filename != filename.strip() or filename.endswith("."):
        raise UploadRejected(
            f"file name {shown!r} must not start with '.' or start/end with spaces or '.'", "bad_filename"
        )
    lower = filename.lower()
    suffix = next((s for s in _ALLOWED_SUFFIXES if lower.endswith(s)), None)
    if suffix is None or len(filename) == len(suffix):
        raise UploadRejected(f"file name {shown!r} must end in .csv or .parquet", "bad_filename")
    return suffix


def safe_display_name(filename: str) -> str:
    """A harmless label for a user-supplied file name: base name only, odd characters replaced.

    Keeps letters, digits, spaces and ``._-()``; control/invisible characters are dropped, any
    other character becomes ``_``; leading dots and spaces are stripped; at most 128
    characters (the extension is kept). Never raises; returns ``"upload"`` if nothing is left.
    """
    if not isinstance(filename, str):
        return "upload"
    name = unicodedata.normalize("NFC", filename)
    name = name.replace("\\", "/")
    name = posixpath.basename(name.rstrip("/")) if "/" in name else name
    out = []
    for ch in name:
        cat = unicodedata.category(ch)
        if cat[0] == "C" or cat in ("Zl", "Zp"):
            continue
        if ch.isalnum() or ch in " ._-()":
            out.append(ch)
        else:
            out.append("_")
    cleaned = "".join(out).strip().lstrip(".").strip()
    if len(cleaned) > 128:
        stem, dot, ext = cleaned.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            cleaned = stem[: 127 - len(ext)] + "." + ext
        else:
            cleaned = cleaned[:128]
    return cleaned or "upload"


def escape_formula(value: str) -> str:
    """Prefix text that a spreadsheet would run as a formula with a single quote (OWASP CSV
    injection advice). Use it on text cells of CSV files meant for humans (e.g. audit export);
    never on the data of a synthetic release (it would change the values)."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


# --------------------------------------------------------------------------- validation


def validate_upload(filename: str, data: bytes, limits: UploadLimits | None = None) -> pd.DataFrame:
    """Check an uploaded file and return it parsed, or raise :class:`UploadRejected`."""
    limits = limits or UploadLimits()
    suffix = check_filename(filename, limits)
    source = safe_display_name(filename)
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise UploadRejected(f"{source}: upload content must be bytes", "unreadable")
    data = bytes(data)
    if len(data) == 0:
        raise UploadRejected(f"{source} is empty", "empty")
    if len(data) > limits.max_bytes:
        raise UploadRejected(
            f"{source} is {_mb(len(data))}; files must be at most {_mb(limits.max_bytes)}", "too_large"
        )
    if suffix == ".csv":
        frame = _validate_csv(data, source, limits)
    else:
        frame = _validate_parquet(data, source, limits)
    _check_frame(frame, source, limits)
    return frame


def _check_header(names: list[str], source: str, limits: UploadLimits) -> None:
    if len(names) > limits.max_columns:
        raise UploadRejected(
            f"{source} has {len(names)} columns; at most {limits.max_columns} are allowed", "too_many_columns"
        )
    seen: set[str] = set()
    for i, name in enumerate(names, start=1):
        if not name.strip():
            raise UploadRejected(f"{source}: header cell {i} is empty; every column needs a name", "blank_header")
        if len(name.encode("utf-8")) > limits.max_cell_bytes:
            raise UploadRejected(
                f"{source}: the name of column {i} is longer than {limits.max_cell_bytes} bytes", "cell_too_large"
            )
        if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp") for ch in name):
            raise UploadRejected(
                f"{source}: the name of column {i} contains control or direction-changing characters "
                "(e.g. a right-to-left override); rename the column", "invisible_characters")
        if name in seen:
            shown = name if len(name) <= 64 else name[:61] + "..."
            raise UploadRejected(
                f"{source}: column name {shown!r} appears more than once in the header (column {i})",
                "duplicate_header",
            )
        seen.add(name)


def _validate_csv(data: bytes, source: str, limits: UploadLimits) -> pd.DataFrame:
    if not data.strip():
        raise UploadRejected(f"{source} is empty (only whitespace)", "empty")
    if b"\x00" in data:
        raise UploadRejected(f"{source} contains NUL bytes; it looks like a binary file, not CSV", "binary")
    m = _BINARY_BYTES.search(data)
    if m:
        raise UploadRejected(
            f"{source} contains a control byte (0x{m.group()[0]:02x}) at byte offset {m.start()}; "
            f"it looks like a binary file, not CSV",
            "binary",
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UploadRejected(
            f"{source} is not valid UTF-8 text (byte offset {exc.start}); save it as CSV UTF-8", "encoding"
        ) from None

    # Header: count columns from the first physical line before parsing anything else, so a
    # 10^5-column header is refused without building large rows.
    m = _LINE_BREAK.search(text)
    first_line = text if m is None else text[: m.start()]
    max_header_chars = limits.max_columns * (limits.max_cell_bytes + 3)
    # Commas outside quoted sections ("a""b" is two adjacent sections, so this stays exact).
    n_columns = _QUOTED.sub("", first_line).count(",") + 1
    if n_columns > limits.max_columns:
        raise UploadRejected(
            f"{source} has {n_columns} columns; at most {limits.max_columns} are allowed", "too_many_columns"
        )
    if len(first_line) > max_header_chars:
        raise UploadRejected(
            f"{source}: the header row is {len(first_line)} characters long; it cannot hold at most "
            f"{limits.max_columns} columns of at most {limits.max_cell_bytes} bytes",
            "too_many_columns",
        )
    try:
        header = next(csv.reader([first_line], strict=True))
    except StopIteration:
        raise UploadRejected(f"{source} has no header row", "empty") from None
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise UploadRejected(
                f"{source}: a header cell is larger than {limits.max_cell_bytes} bytes", "cell_too_large"
            ) from None
        raise UploadRejected(
            f"{source}: the header row is not well-formed CSV (column names cannot contain line breaks "
            f"or unbalanced quotes)",
            "malformed",
        ) from None
    _check_header(header, source, limits)

    # One streaming pass over all records: ragged rows, cell sizes, row count.
    width = len(header)
    cell_chars = limits.max_cell_bytes // 4  # a char is at most 4 UTF-8 bytes: below this no need to encode
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows = 0
    line_no = 0
    try:
        next(reader)  # the header, already checked
        for row in reader:
            line_no = reader.line_num
            if not row:
                continue  # blank line, skipped by the parser as well
            rows += 1
            if rows > limits.max_rows:
                raise UploadRejected(
                    f"{source} has more than {limits.max_rows} data rows; at most {limits.max_rows} are allowed",
                    "too_many_rows",
                )
            if len(row) != width:
                raise UploadRejected(
                    f"{source}: data row {rows} (line {line_no}) has {len(row)} fields but the header has {width}; "
                    f"every row needs the same number of fields",
                    "ragged",
                )
            if max(map(len, row)) > cell_chars:
                for col, cell in enumerate(row, start=1):
                    if len(cell) > cell_chars and len(cell.encode("utf-8")) > limits.max_cell_bytes:
                        raise UploadRejected(
                            f"{source}: the cell in data row {rows} (line {line_no}), column {col} ({header[col - 1][:64]!r}) is "
                            f"larger than {limits.max_cell_bytes} bytes",
                            "cell_too_large",
                        )
    except csv.Error as exc:
        at = reader.line_num
        if "field larger than field limit" in str(exc):
            raise UploadRejected(
                f"{source}: a cell near line {at} is larger than {limits.max_cell_bytes} bytes", "cell_too_large"
            ) from None
        raise UploadRejected(
            f"{source} is not well-formed CSV near line {at} (check quotes: a quoted field must end with "
            f"a quote followed by a comma or line end)",
            "malformed",
        ) from None
    if rows == 0:
        raise UploadRejected(f"{source} has a header but no data rows", "empty")
    try:
        return read_csv_bytes(data, source=source)
    except TableReadError as exc:
        raise UploadRejected(str(exc), "unreadable") from None
    except (ValueError, OverflowError, MemoryError, pd.errors.ParserError) as exc:
        raise UploadRejected(f"{source} could not be parsed as CSV ({exc.__class__.__name__})", "unreadable") from None


def _validate_parquet(data: bytes, source: str, limits: UploadLimits) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    unreadable = f"{source} is not a readable Parquet file"
    if len(data) < 12 or data[:4] != _PARQUET_MAGIC or data[-4:] != _PARQUET_MAGIC:
        raise UploadRejected(f"{unreadable} (it does not start and end with the Parquet marker)", "bad_parquet")
    try:
        pf = pq.ParquetFile(io.BytesIO(data))
        meta = pf.metadata
        schema = pf.schema_arrow
        num_rows = meta.num_rows
        # Row-group totals only: pyarrow 21 aborts the whole process (C++ terminate) when
        # per-column-chunk metadata (meta.row_group(g).column(c)) holds damaged size statistics.
        uncompressed = sum(max(0, meta.row_group(g).total_byte_size) for g in range(meta.num_row_groups))
    except Exception:  # noqa: BLE001 - any failure to read hostile metadata means a bad file
        raise UploadRejected(f"{unreadable} (its metadata is damaged)", "bad_parquet") from None
    names = [str(n) for n in schema.names]
    _check_header(names, source, limits)
    if num_rows > limits.max_rows:
        raise UploadRejected(
            f"{source} has {num_rows} rows; at most {limits.max_rows} are allowed", "too_many_rows"
        )
    if num_rows < 0:
        raise UploadRejected(f"{unreadable} (its metadata is damaged)", "bad_parquet")
    if uncompressed > limits.max_expanded_bytes:
        raise UploadRejected(
            f"{source} expands to {_mb(uncompressed)} when decompressed; at most {_mb(limits.max_expanded_bytes)} "
            f"is allowed",
            "too_large",
        )
    text_columns = []
    for fld in schema:
        t = fld.type
        if pa.types.is_nested(t) or pa.types.is_union(t) or pa.types.is_map(t):
            raise UploadRejected(
                f"{source}: column {str(fld.name)[:64]!r} has nested type {t}; only flat columns "
                f"(numbers, text, dates, booleans) are supported",
                "unsupported_type",
            )
        if pa.types.is_dictionary(t):
            t = t.value_type
        if _is_text(t):
            text_columns.append(fld.name)
    # Read text columns dictionary-encoded, so a huge value repeated by reference is measured
    # before it is expanded into millions of Python strings.
    try:
        table = pq.read_table(io.BytesIO(data), read_dictionary=text_columns or None)
    except Exception:  # noqa: BLE001 - any failure to decode hostile data means a bad file
        raise UploadRejected(f"{unreadable} (its data is damaged)", "bad_parquet") from None
    if table.num_rows > limits.max_rows or table.num_columns > limits.max_columns:
        raise UploadRejected(f"{unreadable} (its metadata does not match its data)", "bad_parquet")
    expanded = 0
    try:
        for i, fld in enumerate(table.schema):
            if fld.name not in text_columns and not pa.types.is_dictionary(fld.type):
                continue
            col = table.column(i)
            for chunk in col.chunks:
                if pa.types.is_dictionary(chunk.type):
                    if not _is_text(chunk.type.value_type):
                        continue
                    lengths = pc.take(pc.binary_length(chunk.dictionary), chunk.indices)
                    longest = pc.max(lengths).as_py() if len(lengths) else None
                    if longest is not None and longest > limits.max_cell_bytes:
                        raise _cell_too_large(source, fld.name, limits)
                elif _is_text(chunk.type):
                    lengths = pc.binary_length(chunk)
                    longest = pc.max(lengths).as_py() if len(lengths) else None
                    if longest is not None and longest > limits.max_cell_bytes:
                        raise _cell_too_large(source, fld.name, limits)
                else:
                    continue
                if lengths is not None and len(lengths):
                    total = pc.sum(lengths).as_py() or 0
                    expanded += total
                    if expanded > limits.max_expanded_bytes:
                        raise UploadRejected(
                            f"{source} expands to more than {_mb(limits.max_expanded_bytes)} of text; "
                            f"that is the limit",
                            "too_large",
                        )
    except UploadRejected:
        raise
    except Exception:  # noqa: BLE001 - damaged data (e.g. dictionary indices out of range)
        raise UploadRejected(f"{unreadable} (its data is damaged)", "bad_parquet") from None
    del table
    try:
        return read_parquet_bytes(data, source=source)
    except TableReadError as exc:
        raise UploadRejected(str(exc), "bad_parquet") from None
    except Exception:  # noqa: BLE001 - hostile input reaches pyarrow's pandas-metadata code
        # (e.g. KeyError from a damaged "pandas" schema entry): any failure here is a bad file.
        raise UploadRejected(f"{unreadable} (its data or metadata is damaged)", "bad_parquet") from None


def _is_text(t) -> bool:
    import pyarrow as pa

    return bool(
        pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t) or pa.types.is_large_binary(t)
    )


def _cell_too_large(source: str, column: str, limits: UploadLimits) -> UploadRejected:
    return UploadRejected(
        f"{source}: column {str(column)[:64]!r} has a cell larger than {limits.max_cell_bytes} bytes",
        "cell_too_large",
    )


def _check_frame(frame: pd.DataFrame, source: str, limits: UploadLimits) -> None:
    """Re-check the parsed table against the limits (defence in depth against parser quirks)."""
    rows, cols = frame.shape
    if cols > limits.max_columns:
        raise UploadRejected(f"{source} has {cols} columns; at most {limits.max_columns} are allowed", "too_many_columns")
    if cols == 0:
        raise UploadRejected(f"{source} has no columns", "empty")
    if rows > limits.max_rows:
        raise UploadRejected(f"{source} has {rows} rows; at most {limits.max_rows} are allowed", "too_many_rows")
    if rows == 0:
        raise UploadRejected(f"{source} has a header but no data rows", "empty")
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names) or any(not n.strip() for n in names):
        raise UploadRejected(f"{source}: column names must be unique and non-empty", "duplicate_header")
    quick = limits.max_cell_bytes // 4  # below this many characters a cell cannot exceed the limit
    for name in frame.columns:
        col = frame[name]
        if col.dtype != object and not isinstance(col.dtype, pd.StringDtype):
            continue
        try:
            lengths = col.str.len()
            suspects = col[lengths > quick]
        except (AttributeError, TypeError):  # mixed object column: check every value
            suspects = col
        for value in suspects:
            if isinstance(value, str):
                if len(value) > quick and len(value.encode("utf-8")) > limits.max_cell_bytes:
                    raise _cell_too_large(source, name, limits)
            elif isinstance(value, (bytes, bytearray)):
                if len(value) > limits.max_cell_bytes:
                    raise _cell_too_large(source, name, limits)
