"""Top-k categories with <other>, chosen with OpenDP and accounted (synthgen.topk, synthgen.topk_select)."""

import json

import numpy as np
import pandas as pd
import polars as pl
import pytest

from synthgen.budget import PrivacyBudget
from synthgen.cli import main
from synthgen.draft import draft_schema_with_report
from synthgen.encoding import encode
from synthgen.errors import InvalidInputError, SchemaError
from synthgen.lazy import encode_lazy
from synthgen.review import review_schema, schema_problems
from synthgen.schema import Column, PrivacyUnit, Schema
from synthgen.synthesizers import check_fit_inputs
from synthgen.synthesizers.config import MST
from synthgen.topk import MAX_TOP_K, OTHER_LABEL
from synthgen.topk_select import select_top_k

RARE = "a-value-only-one-person-has"


def _table(n: int = 3000, rare_rows: int = 1, person: bool = False) -> pd.DataFrame:
    # 8 frequent values with decreasing shares; the table is fixed (no randomness needed)
    values = [f"v{i}" for i in range(8) for _ in range(n * (8 - i) // 36)]
    values = (values + ["v0"] * n)[:n]
    values[:rare_rows] = [RARE] * rare_rows
    frame = pd.DataFrame({"code": values, "x": ["a", "b"] * (n // 2)})
    if person:
        # the rare value's rows all belong to one person; everybody else has one row
        frame.insert(0, "pid", [0] * rare_rows + list(range(1, n - rare_rows + 1)))
    return frame


def _schema(k: int = 3, person: bool = False, max_rows: int = 1) -> Schema:
    cols = [Column("code", "categorical", nullable=True, top_k={"k": k}), Column("x", "categorical", categories=("a", "b"))]
    if person:
        cols.insert(0, Column("pid", "numeric", role="identifier"))
        return Schema(columns=tuple(cols), privacy_unit=PrivacyUnit("pid", max_rows))
    return Schema(columns=tuple(cols))


def test_declared_top_k_round_trips_and_blocks_a_fit_until_selected():
    schema = _schema()
    again = Schema.from_json(schema.to_json())
    assert again.column("code").top_k.k == 3 and again.column("code").categories is None
    assert again.pending_top_k() == ["code"]
    with pytest.raises(SchemaError, match="top_k.*not selected"):
        check_fit_inputs(schema, MST(), PrivacyBudget.from_rho(0.1))
    with pytest.raises(SchemaError, match="synthgen schema top-k"):
        encode(_table(), schema)
    _, problems = schema_problems(json.loads(schema.to_json()))
    assert any("top_k declared" in str(p) for p in problems)


@pytest.mark.parametrize("top_k, message", [
    ({"k": 0}, "top_k.k"), ({"k": -2}, "top_k.k"), ({"k": MAX_TOP_K + 1}, "top_k.k"), ({"k": "3"}, "top_k.k"),
    ({"k": True}, "top_k.k"), ({"k": 3, "size": 2}, "unknown field"), ([3], "must be an object"),
])
def test_bad_top_k_declarations_name_the_field(top_k, message):
    with pytest.raises(SchemaError, match=message):
        Column("code", "categorical", top_k=top_k)


def test_top_k_is_refused_with_a_code_list_or_draft_categories():
    with pytest.raises(SchemaError, match="without a code_list"):
        Column("d", "categorical", code_list="icd9-cm-chapters", top_k={"k": 3})
    with pytest.raises(SchemaError, match="leave categories out"):
        Column("d", "categorical", categories=("a",), top_k={"k": 3})
    assert Column("d", "categorical", categories=(), top_k={"k": 3}).categories is None  # an editor's empty list
    with pytest.raises(SchemaError, match="followed by"):
        Column("d", "categorical", categories=("a", "b"), top_k={"k": 3, "rho": 0.1, "delta": 0.0, "epsilon": 1.0})


def test_selection_keeps_the_most_frequent_and_maps_the_rest_to_other():
    frame = _table()
    chosen, accounting = select_top_k(frame, _schema(k=3), epsilon=1.0, delta=1e-9)
    col = chosen.column("code")
    assert col.categories == ("v0", "v1", "v2", OTHER_LABEL)
    assert col.top_k.selected and not chosen.pending_top_k()
    codes = encode(frame, chosen).codes["code"]
    other = col.categories.index(OTHER_LABEL)
    assert (codes == other).sum() == frame["code"].isin(["v3", "v4", "v5", "v6", "v7", RARE]).sum()
    # the out-of-core encoding maps the same way
    lazy = encode_lazy(pl.from_pandas(frame).lazy(), chosen).collect()["code"].to_numpy()
    np.testing.assert_array_equal(lazy, codes)
    assert accounting["columns"]["code"]["kept"] == 3


def test_a_value_held_by_one_person_is_not_released_at_a_small_epsilon():
    # neighbouring tables: with and without the one row holding RARE; RARE must not be released
    for rare_rows in (1, 0):
        chosen, _ = select_top_k(_table(rare_rows=rare_rows), _schema(k=20), epsilon=0.5, delta=1e-9)
        assert RARE not in chosen.column("code").categories


def test_person_level_unit_bounds_rows_and_raises_the_threshold():
    # one person holds 40 rows of RARE; at most 2 count, and OpenDP is told 2 contributions
    frame = _table(rare_rows=40, person=True)
    chosen, accounting = select_top_k(frame, _schema(k=20, person=True, max_rows=2), epsilon=0.5, delta=1e-9)
    assert RARE not in chosen.column("code").categories
    assert accounting["contributions"] == 2
    one, acc_one = select_top_k(_table(), _schema(k=20), epsilon=0.5, delta=1e-9)
    assert accounting["columns"]["code"]["key_threshold"] > acc_one["columns"]["code"]["key_threshold"]


def test_the_charge_recorded_is_opendps_privacy_map():
    """The recorded (ρ, δ) of a column is what OpenDP's privacy map reports for the same query, and
    the total is the (ε, δ) asked for: what the ledger charges."""
    from synthgen._opendp import SLACK, dp

    frame = _table()
    schema = Schema(columns=(
        Column("code", "categorical", nullable=True, top_k={"k": 3}),
        Column("x", "categorical", nullable=True, top_k={"k": 1}),
    ))
    chosen, accounting = select_top_k(frame, schema, epsilon=1.0, delta=1e-8)
    budget = PrivacyBudget.from_epsilon(1.0, 1e-8)
    assert accounting["rho"] == budget.rho and accounting["delta"] == 1e-8
    part = {"rho": budget.rho * (1 - SLACK) / 2, "delta": 1e-8 * (1 - SLACK) / 2}
    ctx = dp.Context.compositor(
        data=pl.LazyFrame({"code": frame["code"].astype(str)}), privacy_unit=dp.unit_of(contributions=1),
        privacy_loss=dp.loss_of(rho=budget.rho, delta=1e-8), margins=[dp.polars.Margin(max_length=100_000_000)],
    )
    rho, delta = ctx.query(**part).group_by("code").agg(dp.len(signed=False)).resolve().map(1)
    recorded = chosen.column("code").top_k
    assert (recorded.rho, recorded.delta) == (rho, delta)
    assert sum(c["rho"] for c in accounting["columns"].values()) <= budget.rho
    assert sum(c["delta"] for c in accounting["columns"].values()) <= 1e-8
    assert recorded.epsilon == pytest.approx(PrivacyBudget.from_rho(rho).epsilon(1e-8))


def test_selection_keeps_a_recorded_review_valid():
    frame = _table()
    draft, _ = draft_schema_with_report(frame.assign(code=[f"c{i % 60}" for i in range(len(frame))]))
    assert draft.column("code").top_k is not None and draft.column("code").read_from_data == ()
    reviewed = review_schema(draft, draft, reviewer="owner", confirm=["x"])
    chosen, _ = select_top_k(frame, reviewed, epsilon=1.0, delta=1e-9)
    chosen.require_reviewed()  # no error: the review still vouches for the (unchanged) data-read values
    edited = chosen.replace_column(Column("x", "categorical", categories=("a", "b", "c"), read_from_data=("categories",)))
    with pytest.raises(SchemaError):
        edited.require_reviewed()


def test_selection_refuses_bad_budgets_and_columns():
    frame, schema = _table(), _schema()
    with pytest.raises(InvalidInputError, match="epsilon"):
        select_top_k(frame, schema, epsilon=0.0, delta=1e-9)
    with pytest.raises(InvalidInputError, match="k of column 'code'"):
        select_top_k(frame, schema, epsilon=1.0, delta=1e-9, columns={"code": 0})
    with pytest.raises(InvalidInputError, match="no column declares"):
        select_top_k(frame, Schema(columns=(Column("x", "categorical", categories=("a", "b")),)), epsilon=1.0, delta=1e-9)


@pytest.mark.parametrize("extra, message", [
    (["--epsilon", "0"], "--epsilon (0) must be > 0"),
    (["--epsilon", "-1"], "--epsilon (-1) must be > 0"),
    (["--epsilon", "1", "--column", "code=0"], "--column code: k (0) must be a whole number between 1 and"),
    (["--epsilon", "1", "--column", f"code={MAX_TOP_K + 1}"], f"must be a whole number between 1 and {MAX_TOP_K}"),
    (["--epsilon", "1", "--column", "code=many"], "--column code: k ('many') must be a whole number"),
])
def test_cli_top_k_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, extra, message):
    data, schema_path, out = tmp_path / "t.csv", tmp_path / "s.json", tmp_path / "out.json"
    _table(300).to_csv(data, index=False)
    _schema().save(schema_path)
    code = main(["schema", "top-k", str(schema_path), "--data", str(data), "-o", str(out), *extra])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and message in err, err
    assert not out.exists()


def test_cli_top_k_prints_the_spend_and_writes_the_schema(tmp_path, capsys):
    data, schema_path, out, acct = tmp_path / "t.csv", tmp_path / "s.json", tmp_path / "out.json", tmp_path / "a.json"
    _table().to_csv(data, index=False)
    _schema().save(schema_path)
    assert main(["schema", "top-k", str(schema_path), "--data", str(data), "--epsilon", "1", "-o", str(out),
                 "--accounting", str(acct)]) == 0
    err = capsys.readouterr().err
    assert "spent epsilon 1 at delta 1e-09" in err and "charge it" in err
    chosen = Schema.load(out)
    assert chosen.column("code").categories[-1] == OTHER_LABEL and not chosen.pending_top_k()
    assert json.loads(acct.read_text())["columns"]["code"]["kept"] == 3


def test_cli_top_k_tells_the_owner_what_the_person_bound_set_aside(tmp_path, capsys):
    data, schema_path, out = tmp_path / "t.csv", tmp_path / "s.json", tmp_path / "out.json"
    _table(rare_rows=40, person=True).to_csv(data, index=False)
    _schema(person=True, max_rows=2).save(schema_path)
    assert main(["schema", "top-k", str(schema_path), "--data", str(data), "--epsilon", "1", "-o", str(out)]) == 0
    assert "the person-level bound set aside 38 rows (38 beyond the rows allowed per person, 0 without" in capsys.readouterr().err
