"""Small rules about values that the schema and the draft share: quantile cuts for a draft,
number-looking text, identifier-looking names."""

from __future__ import annotations

import math
import re
from typing import Iterable


def quantile_cuts(values: Iterable[float], bins: int, integer: bool, lower: float, upper: float) -> list[float]:
    """Interior cut points at the quantiles of ``values`` (used by the *non-private* draft).

    Duplicate edges are merged, so skewed columns (capital-gain is mostly 0) get fewer bins
    rather than empty ones (KNOWN-PITFALLS #3).
    """
    import numpy as np

    arr = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    if arr.size == 0 or bins < 2:
        return []
    qs = np.quantile(arr, np.linspace(0, 1, bins + 1)[1:-1])
    cuts: list[float] = []
    for q in qs:
        cut = float(math.ceil(q)) if integer else float(q)
        if integer and cut == q:
            cut = q + 1.0  # [.., q] stays in the lower bin: values equal to a quantile go below
        if integer:
            cut = float(int(cut))
        if lower < cut < upper and (not cuts or cut > cuts[-1]):
            cuts.append(cut)
    return [int(c) if integer else c for c in cuts]


def _is_number_text(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def is_identifier_name(name: str) -> bool:
    return bool(re.search(r"(^|_|\b)(id|ssn|email|name|phone|passport|ticket|uuid)($|_|\b)", name, re.IGNORECASE))
