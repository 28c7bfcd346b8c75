"""The one list of synthesizer facts that every front end and the service read.

A synthesizer's name, its label, whether it is differentially private and the largest ε one
request may spend on it are decided here and nowhere else: the dashboard's choices and ε
field, the HTTP API, the CLI and the release service all ask :func:`facts`. A new synthesizer
is one config class in :mod:`synthgen.synthesizers.config`; it appears everywhere from there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from synthgen.budget import MAX_EPSILON
from synthgen.errors import InvalidInputError
from synthgen.synthesizers.config import SYNTHESIZERS, config_by_name


@dataclass(frozen=True)
class SynthesizerFacts:
    name: str
    label: str
    #: differentially private (OpenDP); False for the labelled, non-private SDV baselines
    dp: bool
    #: largest ε at the release's δ that one request may spend (None: the synthesizer takes no ε)
    max_epsilon: float | None
    short_name: str = ""
    summary: str = ""
    tradeoff: str = ""

    @property
    def description(self) -> str:
        """One line for a choice list: name, whether it is DP, when to choose it."""
        kind = "differentially private" if self.dp else "baseline, no formal privacy"
        return f"{self.short_name} — {kind}" + (f" ({self.summary})" if self.summary else "")


def facts(name: Any) -> SynthesizerFacts:
    """The facts of synthesizer ``name``; an unknown name is bad input naming the choices."""
    if not isinstance(name, str) or name not in SYNTHESIZERS:
        raise InvalidInputError(f"synthesizer ({str(name)[:40]!r}) must be one of {', '.join(SYNTHESIZERS)}")
    cls = SYNTHESIZERS[name]
    return SynthesizerFacts(name=cls.name, label=cls.label, dp=bool(cls.dp),
                            max_epsilon=MAX_EPSILON if cls.dp else None, short_name=cls.short_name or cls.name,
                            summary=cls.summary, tradeoff=cls.tradeoff)


def all_facts() -> tuple[SynthesizerFacts, ...]:
    """Every synthesizer, in the order front ends offer them."""
    return tuple(facts(n) for n in SYNTHESIZERS)


#: widest table (synthesized columns) on which AIM is the default; wider tables default to MST.
#: AIM's rounds score every pair of columns, so its time grows with the square of the width:
#: measured on 2 cores (benchmarks/README.md), Adult's 15 columns took 19 CPU seconds and
#: 100,000 rows × 50 columns 132 CPU seconds (311 s wall on a shared machine), inside the
#: 10-minute target; beyond 50 columns it has not been measured, so MST is the default there.
AIM_DEFAULT_MAX_COLUMNS = 50


def default_for(columns: int) -> str:
    """The synthesizer front ends preselect for a table of ``columns`` synthesized columns.

    Decided from the public schema alone, never from the private rows (their number, or how
    long a fit took, would be statistics of the table that nobody paid for), so the choice
    reveals nothing about the data."""
    if isinstance(columns, bool) or not isinstance(columns, int) or columns < 0:
        raise InvalidInputError(f"columns ({columns!r}) must be a non-negative integer")
    return "aim" if columns <= AIM_DEFAULT_MAX_COLUMNS else "mst"


def check_options(name: str, options: dict[str, Any]) -> dict[str, Any]:
    """Validate synthesizer options now (so a typo fails the request, not the job); returns
    the full configuration (``config.to_dict()``)."""
    facts(name)
    if not isinstance(options, dict):
        raise InvalidInputError("config must be an object of synthesizer options")
    try:
        json.dumps(options)
    except (TypeError, ValueError):
        raise InvalidInputError("config must be JSON-serializable synthesizer options") from None
    options = {k: v for k, v in options.items() if k not in ("synthesizer", "dp")}
    try:
        return config_by_name(name, **options).to_dict()
    except TypeError as exc:
        raise InvalidInputError(f"config for {name}: {exc}") from None
