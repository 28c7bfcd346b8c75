"""The review tells a kept value from a replaced one: a new role or another order of the same
categories keeps the values read off the data, so they must be confirmed."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest

from synthgen.draft import draft_schema
from synthgen.errors import SchemaError
from synthgen.review import review_with_log

NOW = datetime(2026, 11, 30, 12, tzinfo=timezone.utc)


def _draft():
    i = np.arange(200)
    return draft_schema(pd.DataFrame({
        "race": pd.Series([["Caucasian", "AfricanAmerican", "Other", "?"][k % 4] for k in i], dtype=object),
        "stay": (i % 14) + 1,
        "score": (i * 37) % 60,
    }), name="t")


def _edit(draft):
    race, stay = draft.column("race"), draft.column("stay")
    return (
        draft.replace_column(replace(race, role="quasi_identifier", categories=tuple(reversed(race.categories))))
        .replace_column(replace(stay, categories=tuple(str(v) for v in stay.categories)))  # "1" is 1
        .replace_column(replace(draft.column("score"), lower=-100, upper=1000, cuts=(10, 30)))
    )


def test_a_new_role_or_order_does_not_count_as_replacing_the_categories():
    draft = _draft()
    with pytest.raises(SchemaError) as err:
        review_with_log(draft, _edit(draft), reviewer="owner", now=NOW)
    assert "race (categories)" in str(err.value) and "stay (categories)" in str(err.value)
    reviewed, log = review_with_log(draft, _edit(draft), reviewer="owner", confirm=["race", "stay"], now=NOW)
    assert reviewed.review.confirmed == {"race": ("categories",), "stay": ("categories",)}
    assert "race" not in reviewed.review.replaced and "stay" not in reviewed.review.replaced
    assert reviewed.review.replaced["score"] == ("lower", "upper", "cuts")
    assert {(c["column"], c["field"]) for c in log["changes"]} >= {("race", "role")}
    assert ("race", "categories") not in {(c["column"], c["field"]) for c in log["changes"]}


def test_a_changed_category_is_still_a_replacement():
    draft = _draft()
    race = draft.column("race")
    edited = _edit(draft).replace_column(replace(race, categories=race.categories + ("Asian",)))
    reviewed, _ = review_with_log(draft, edited, reviewer="owner", confirm=["stay"], now=NOW)
    assert reviewed.review.replaced["race"] == ("categories",)
