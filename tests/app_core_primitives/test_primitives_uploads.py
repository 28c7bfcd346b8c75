"""Hostile-upload validation: every bad case rejected with a message; fuzzing never escapes."""

from __future__ import annotations

import io

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.uploads import (
    UploadLimits,
    UploadRejected,
    check_filename,
    escape_formula,
    safe_display_name,
    validate_upload,
)
from synthgen.errors import InvalidInputError

LIMITS = UploadLimits()
SMALL = UploadLimits(max_bytes=4096, max_columns=8, max_rows=20, max_cell_bytes=64, max_name_length=40)


def parquet_bytes(frame: pd.DataFrame | pa.Table, **kwargs) -> bytes:
    buf = io.BytesIO()
    table = frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, buf, **kwargs)
    return buf.getvalue()


VALID_CSV = b"age,city,income\n34,Paris,52000\n51,Lyon,61000\n29,=SUM(A1),-3\n"


def test_valid_csv_passes_and_formulas_are_kept_as_values():
    frame = validate_upload("people.csv", VALID_CSV, LIMITS)
    assert list(frame.columns) == ["age", "city", "income"]
    assert frame.shape == (3, 3)
    assert frame["age"].tolist() == [34, 51, 29]
    assert frame["city"].tolist()[2] == "=SUM(A1)"  # accepted as data, not executed, not altered


def test_valid_csv_variants_pass():
    assert validate_upload("bom.csv", "\ufeffa,b\n1,2\n".encode(), LIMITS).columns.tolist() == ["a", "b"]
    assert validate_upload("crlf.CSV", b"a,b\r\n1,2\r\n3,4\r\n", LIMITS).shape == (2, 2)
    assert validate_upload("quoted.csv", b'a,b\n"x, y","multi\nline"\n', LIMITS).shape == (1, 2)
    assert validate_upload("blank-lines.csv", b"a,b\n1,2\n\n3,4\n", LIMITS).shape == (2, 2)
    assert validate_upload("missing.csv", b"a,b\n1,\n,2\n", LIMITS)["a"].isna().sum() == 1
    # commas inside quoted column names do not count as extra columns
    names = '"a,b,c,d,e,f,g,h,i,j",x\n1,2\n'.encode()
    assert validate_upload("quoted-names.csv", names, SMALL).columns.tolist() == ["a,b,c,d,e,f,g,h,i,j", "x"]


def test_valid_parquet_with_dictionary_of_numbers_passes():
    arr = pa.DictionaryArray.from_arrays(pa.array([0, 1, 0], type=pa.int8()), pa.array([10, 20]))
    out = validate_upload("codes.parquet", parquet_bytes(pa.table({"code": arr, "s": ["a", "b", "c"]})), LIMITS)
    assert out.shape == (3, 2)


def test_valid_parquet_passes():
    frame = pd.DataFrame({"age": [34, 51], "city": ["Paris", "Lyon"], "score": [0.5, None]})
    out = validate_upload("people.parquet", parquet_bytes(frame), LIMITS)
    pd.testing.assert_frame_equal(out, frame)
    categorical = pd.DataFrame({"c": pd.Categorical(["a", "b", "a"])})
    assert validate_upload("cat.parquet", parquet_bytes(categorical), LIMITS).shape == (3, 1)


def _parquet_many_columns(n):
    return parquet_bytes(pa.table({f"c{i}": [1] for i in range(n)}))


def _parquet_nested():
    return parquet_bytes(pa.table({"a": [[1, 2], [3]]}))


def _parquet_big_cell():
    return parquet_bytes(pa.table({"a": ["x" * (70 * 1024), "y"]}))


def _parquet_dictionary_bomb():
    # one 100 KB value referenced by many rows: tiny on disk, huge when expanded
    arr = pa.DictionaryArray.from_arrays(pa.array([0] * 1000, type=pa.int32()), pa.array(["z" * 100_000]))
    return parquet_bytes(pa.table({"a": arr}))


HOSTILE = [
    ("empty.csv", b"", LIMITS, "empty", "is empty"),
    ("blank.csv", b"  \n\n \r\n", LIMITS, "empty", "is empty"),
    ("header-only.csv", b"a,b\n", LIMITS, "empty", "no data rows"),
    ("nul.csv", b"a,b\n1,\x002\n", LIMITS, "binary", "NUL bytes"),
    ("ctrl.csv", b"a,b\n1,\x1b[31m\n", LIMITS, "binary", "control byte (0x1b)"),
    ("png.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", LIMITS, "binary", "binary"),
    ("latin1.csv", "name\nJosé\n".encode("latin-1"), LIMITS, "encoding", "not valid UTF-8"),
    ("ragged.csv", b"a,b,c\n1,2,3\n4,5\n", LIMITS, "ragged", "data row 2 (line 3) has 2 fields but the header has 3"),
    ("ragged-long.csv", b"a,b\n1,2,3\n", LIMITS, "ragged", "has 3 fields"),
    ("dup.csv", b"a,b,a\n1,2,3\n", LIMITS, "duplicate_header", "'a' appears more than once"),
    ("blankhdr.csv", b"a,,c\n1,2,3\n", LIMITS, "blank_header", "header cell 2 is empty"),
    ("spacehdr.csv", b"a, \n1,2\n", LIMITS, "blank_header", "header cell 2 is empty"),
    ("wide.csv", (",".join(f"c{i}" for i in range(100_000)) + "\n" + ",".join("1" * 100_000) + "\n").encode(), LIMITS, "too_many_columns", "100000 columns; at most 500"),
    ("wide-quoted.csv", (",".join(f'"c{i}"' for i in range(600)) + "\n").encode(), LIMITS, "too_many_columns", "600 columns"),
    ("bigcell.csv", b"a,b\n1," + b"x" * (50 * 1024 * 1024) + b"\n", LIMITS, "cell_too_large", "larger than 65536 bytes"),
    ("bigcell-quoted.csv", b'a,b\n1,"' + b"x" * 70_000 + b'"\n', LIMITS, "cell_too_large", "larger than 65536 bytes"),
    ("bigcell-small.csv", b"a,b\n1," + "é".encode() * 40 + b"\n", SMALL, "cell_too_large", "column 2 ('b') is larger than 64 bytes"),
    ("toolarge.csv", b"a\n" + b"1\n" * 3000, SMALL, "too_large", "at most 0.0 MB"),
    ("rows.csv", b"a\n" + b"1\n" * 21, SMALL, "too_many_rows", "more than 20 data rows"),
    ("quote.csv", b'a,b\n1,"unterminated\n', LIMITS, "malformed", "not well-formed CSV"),
    ("quote2.csv", b'a,b\n"x"y,2\n', LIMITS, "malformed", "not well-formed CSV"),
    ("hdrquote.csv", b'"a,b\n1,2\n', LIMITS, "malformed", "header row is not well-formed"),
    ("../x.csv", b"a\n1\n", LIMITS, "bad_filename", "plain file name"),
    ("../../etc/passwd.csv", b"a\n1\n", LIMITS, "bad_filename", "plain file name"),
    ("/etc/x.csv", b"a\n1\n", LIMITS, "bad_filename", "plain file name"),
    ("C:\\Users\\x.csv", b"a\n1\n", LIMITS, "bad_filename", "plain file name"),
    ("sub\\x.csv", b"a\n1\n", LIMITS, "bad_filename", "plain file name"),
    ("x\x00.csv", b"a\n1\n", LIMITS, "bad_filename", "control or invisible"),
    ("x\n.csv", b"a\n1\n", LIMITS, "bad_filename", "control or invisible"),
    ("evil\u202ecsv.exe", b"a\n1\n", LIMITS, "bad_filename", "control or invisible"),
    ("x.exe", b"a\n1\n", LIMITS, "bad_filename", "must end in .csv or .parquet"),
    ("x.csv.exe", b"a\n1\n", LIMITS, "bad_filename", "must end in .csv or .parquet"),
    ("table", b"a\n1\n", LIMITS, "bad_filename", "must end in .csv or .parquet"),
    (".csv", b"a\n1\n", LIMITS, "bad_filename", "must not start with '.'"),
    ("..", b"a\n1\n", LIMITS, "bad_filename", "must not start with '.'"),
    (" x.csv", b"a\n1\n", LIMITS, "bad_filename", "spaces"),
    ("", b"a\n1\n", LIMITS, "bad_filename", "no name"),
    ("n" * 200 + ".csv", b"a\n1\n", LIMITS, "bad_filename", "204 characters) must be at most 128"),
    ("bad.parquet", b"PAR1 this is not parquet PAR1", LIMITS, "bad_parquet", "not a readable Parquet file"),
    ("csv.parquet", VALID_CSV, LIMITS, "bad_parquet", "not a readable Parquet file"),
    ("empty.parquet", b"", LIMITS, "empty", "is empty"),
    ("wide.parquet", _parquet_many_columns(12), SMALL, "too_many_columns", "12 columns; at most 8"),
    ("rows.parquet", parquet_bytes(pa.table({"a": list(range(25))})), SMALL, "too_many_rows", "25 rows; at most 20"),
    ("nested.parquet", _parquet_nested(), LIMITS, "unsupported_type", "nested type"),
    ("bigcell.parquet", _parquet_big_cell(), LIMITS, "cell_too_large", "larger than 65536 bytes"),
    ("bomb.parquet", _parquet_dictionary_bomb(), LIMITS, "cell_too_large", "larger than 65536 bytes"),
    ("dup.parquet", parquet_bytes(pa.table([pa.array([1]), pa.array([2])], names=["a", "a"])), LIMITS, "duplicate_header", "more than once"),
    ("noheader.parquet", parquet_bytes(pa.table([pa.array([1])], names=[""])), LIMITS, "blank_header", "is empty"),
]


@pytest.mark.parametrize(
    "filename,data,limits,reason,fragment",
    HOSTILE,
    ids=[f"{i}-{h[3]}" for i, h in enumerate(HOSTILE)],
)
def test_hostile_uploads_rejected_with_message(filename, data, limits, reason, fragment):
    with pytest.raises(UploadRejected) as info:
        validate_upload(filename, data, limits)
    assert info.value.reason == reason
    assert fragment in str(info.value)
    assert isinstance(info.value, InvalidInputError)


def test_messages_never_contain_cell_values():
    secret = "SECRET-PATIENT-NAME"
    cases = [
        ("a.csv", f"a,b\n{secret},2,3\n".encode()),
        ("a.csv", f"a,b\n1,{secret}" .encode() + b"x" * 70_000 + b"\n"),
        ("a.csv", f'a,b\n1,"{secret}\n'.encode()),
        ("a.csv", f"a,b\n1,{secret}\x07\n".encode()),
    ]
    for filename, data in cases:
        with pytest.raises(UploadRejected) as info:
            validate_upload(filename, data, LIMITS)
        assert secret not in str(info.value)


def test_dictionary_expansion_bomb_bounded_by_expanded_limit():
    arr = pa.DictionaryArray.from_arrays(pa.array([0] * 20_000, type=pa.int32()), pa.array(["q" * 1000]))
    data = parquet_bytes(pa.table({"a": arr}))
    assert len(data) < 100_000
    limits = UploadLimits(max_expanded_bytes=10_000_000)
    with pytest.raises(UploadRejected) as info:
        validate_upload("bomb.parquet", data, limits)
    assert info.value.reason == "too_large"


def test_limits_are_validated():
    with pytest.raises(InvalidInputError, match="max_columns"):
        UploadLimits(max_columns=0)
    with pytest.raises(InvalidInputError, match="max_cell_bytes"):
        UploadLimits(max_cell_bytes=10**6)


@pytest.mark.parametrize(
    "name,expected",
    [
        ("../../etc/passwd.csv", "passwd.csv"),
        ("C:\\Users\\me\\data.csv", "data.csv"),
        ("evil\u202ecsv.exe", "evilcsv.exe"),
        ("a<b>|c?.csv", "a_b__c_.csv"),
        ("...hidden.csv", "hidden.csv"),
        ("x\x00y.csv", "xy.csv"),
        ("données 2024.csv", "données 2024.csv"),
        ("", "upload"),
        ("///", "upload"),
    ],
)
def test_safe_display_name(name, expected):
    assert safe_display_name(name) == expected


def test_safe_display_name_truncates_keeping_extension():
    out = safe_display_name("a" * 300 + ".parquet")
    assert len(out) == 128 and out.endswith(".parquet")


@pytest.mark.parametrize(
    "value,expected",
    [("=SUM(A1)", "'=SUM(A1)"), ("+1", "'+1"), ("-cmd", "'-cmd"), ("@x", "'@x"), ("\tx", "'\tx"), ("plain", "plain"), ("", ""), ("a=b", "a=b")],
)
def test_escape_formula(value, expected):
    assert escape_formula(value) == expected


def test_check_filename_returns_suffix():
    assert check_filename("A.CSV", LIMITS) == ".csv"
    assert check_filename("t.Parquet", LIMITS) == ".parquet"


# --------------------------------------------------------------------------- fuzzing


def _assert_within(frame: pd.DataFrame, limits: UploadLimits) -> None:
    assert isinstance(frame, pd.DataFrame)
    assert 0 < frame.shape[1] <= limits.max_columns
    assert 0 < frame.shape[0] <= limits.max_rows
    for name in frame.columns:
        for value in frame[name]:
            if isinstance(value, str):
                assert len(value.encode("utf-8")) <= limits.max_cell_bytes


FUZZ = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ_SLOW = settings(FUZZ, max_examples=150)  # each example parses a whole table


@FUZZ
@given(data=st.binary(max_size=600), suffix=st.sampled_from([".csv", ".parquet"]))
def test_fuzz_garbage_bytes(data, suffix):
    try:
        frame = validate_upload("fuzz" + suffix, data, SMALL)
    except UploadRejected as exc:
        assert str(exc) and exc.reason
    else:
        _assert_within(frame, SMALL)


_cell = st.text(alphabet=st.sampled_from(list('ab1 ,"\n\r\t=-é\\;')), max_size=12)


@FUZZ
@given(rows=st.lists(st.lists(_cell, min_size=0, max_size=10), min_size=0, max_size=25), sep=st.sampled_from(["\n", "\r\n", "\r"]))
def test_fuzz_ragged_csv(rows, sep):
    text = sep.join(",".join(row) for row in rows)
    try:
        frame = validate_upload("fuzz.csv", text.encode("utf-8"), SMALL)
    except UploadRejected as exc:
        assert str(exc) and exc.reason
    else:
        _assert_within(frame, SMALL)


_text_cell = st.text(
    alphabet=st.characters(exclude_categories=("Cs", "Cc"), include_characters=',"\n\r\t'), max_size=15
)


@st.composite
def rectangular_tables(draw):
    width = draw(st.integers(min_value=1, max_value=SMALL.max_columns))
    header = draw(st.lists(st.text(alphabet="abcxyz_", min_size=1, max_size=6), min_size=width, max_size=width, unique=True))
    body = draw(st.lists(st.lists(_text_cell, min_size=width, max_size=width), min_size=1, max_size=SMALL.max_rows))
    return header, body


@FUZZ_SLOW
@given(table=rectangular_tables())
def test_fuzz_well_formed_csv_within_limits_is_accepted_whole(table):
    """Any rectangular, properly quoted CSV inside the limits is accepted with every row and column."""
    import csv

    header, body = table
    buf = io.StringIO()
    writer = csv.writer(buf)  # "\r\n" terminator: fields holding a lone \r or \n get quoted
    writer.writerow(header)
    writer.writerows(body)
    limits = UploadLimits(max_bytes=64 * 1024, max_columns=SMALL.max_columns, max_rows=SMALL.max_rows, max_cell_bytes=64)
    frame = validate_upload("fuzz.csv", buf.getvalue().encode("utf-8"), limits)
    _assert_within(frame, limits)
    assert list(frame.columns) == header
    assert len(frame) == len(body)


@FUZZ_SLOW
@given(flips=st.lists(st.tuples(st.integers(min_value=0), st.integers(min_value=1, max_value=255)), min_size=1, max_size=4))
def test_fuzz_corrupted_parquet(flips):
    data = bytearray(parquet_bytes(pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})))
    for pos, mask in flips:
        data[pos % len(data)] ^= mask
    try:
        frame = validate_upload("fuzz.parquet", bytes(data), SMALL)
    except UploadRejected as exc:
        assert str(exc) and exc.reason
    else:
        _assert_within(frame, SMALL)
