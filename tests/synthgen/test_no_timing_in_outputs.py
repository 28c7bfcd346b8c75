"""No timing of a fit in any output: a fit's duration grows with the private table's size, so a
duration in a model file (and from there in a release manifest) is an unpaid statistic."""

import json
import re
import zipfile
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from synthgen.budget import PrivacyBudget
from synthgen.schema import Column, Schema
from synthgen.synthesizers import MST, fit

TIMING = re.compile(r"second|duration|elapsed|timing|_at$", re.IGNORECASE)


def _keys(value, path=""):
    if isinstance(value, dict):
        for k, v in value.items():
            yield f"{path}.{k}", k
            yield from _keys(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _keys(v, f"{path}[{i}]")


@pytest.mark.slow
def test_the_model_file_holds_no_timing(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"colour": rng.choice(["red", "green"], size=200), "flag": rng.choice([True, False], size=200)})
    schema = Schema(columns=(Column("colour", "categorical", categories=("red", "green")), Column("flag", "boolean")))
    model = fit(frame, schema, MST(estimation_iters=20), PrivacyBudget.from_epsilon(1.0, 1e-9))
    model.save(tmp_path / "m.zip")
    with zipfile.ZipFile(tmp_path / "m.zip") as zf:
        header = json.loads(zf.read("model.json"))
    timed = [path for path, key in _keys(header) if TIMING.search(key)]
    assert timed == []
    # the fit's day, not its second: with the request's time it would time the fit
    assert date.fromisoformat(header["info"]["fitted_on"]) <= datetime.now(timezone.utc).date() + timedelta(days=1)
