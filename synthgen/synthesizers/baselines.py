"""Non-DP baselines over SDV (GaussianCopula, CTGAN). NOT differentially private.

They exist so that people can see what DP costs in utility; everything they produce is marked
``dp=False``. They see the identifier-free table, and they are never saved to disk (SDV models
persist only with pickle). SDV is an optional extra: ``pip install synthgen[baselines]``.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd

from synthgen.encoding import encode_column, in_schema_order
from synthgen.errors import InvalidInputError
from synthgen.model import FittedModel, build_info
from synthgen.schema import Schema, normalise_category
from synthgen.synthesizers.config import CTGANBaseline, GaussianCopulaBaseline, SynthesizerConfig

TABLE = "table"


def _sdv_metadata(schema: Schema):
    """SDV 2.0 metadata for the synthesized columns.

    SDV 2.0 rejects the 1.x key ``computer_representation`` on numerical columns (the locked
    ``sdv==2.0.0`` refused every baseline because of it); an integer column is declared with
    ``decimal_places: 0`` instead. The table handed to SDV is first conformed to the schema
    (:func:`conform_to_schema`), so SDV's own value checks never see an out-of-schema value.
    """
    from sdv.metadata import Metadata

    sdtypes = {"categorical": "categorical", "boolean": "boolean", "numeric": "numerical", "datetime": "datetime"}
    columns: dict[str, Any] = {}
    for col in schema.synthesized_columns:
        spec: dict[str, Any] = {"sdtype": sdtypes[col.kind]}
        if col.kind == "numeric" and col.integer:
            spec["decimal_places"] = 0
        columns[col.name] = spec
    return Metadata.load_from_dict({"tables": {TABLE: {"columns": columns}}})


def conform_to_schema(frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """The synthesized columns of ``frame`` with every value brought inside the public schema.

    The same fixed rule as the DP path (synthgen.encoding): numbers and datetimes are clipped to
    the declared bounds (integers rounded), unknown categories and unparsable values become
    missing. A row-wise map, so a baseline never learns a value outside the schema (an unknown
    category, a value beyond a declared bound) and never fails on one, which would tell the
    person who launched it that such a value exists. The baseline is still NOT DP.
    """
    out: dict[str, pd.Series] = {}
    for col in schema.synthesized_columns:
        values = frame[col.name].reset_index(drop=True)
        if col.kind == "categorical":
            lookup = {normalise_category(c): c for c in col.categories or ()}
            out[col.name] = pd.Series([lookup.get(normalise_category(v)) for v in values], dtype=object)
        elif col.kind == "boolean":
            codes, fitted = encode_column(col, values)
            out[col.name] = pd.Series([bool(c) if ok else None for c, ok in zip(codes, fitted)], dtype=object)
        elif col.kind == "numeric":
            lower, upper = float(col.lower), float(col.upper)
            numbers = pd.to_numeric(values, errors="coerce").astype(float).clip(lower, upper)
            out[col.name] = numbers.round() if col.integer else numbers
        else:  # datetime: clip in epoch seconds, as the encoder does
            edges = col.edges()
            parsed = pd.to_datetime(values, errors="coerce", utc=True, format="mixed")
            seconds = parsed.astype("int64").where(parsed.notna()) / 1e9
            seconds = seconds.clip(edges[0], edges[-1])
            out[col.name] = pd.to_datetime(seconds, unit="s")
        if out[col.name].dtype == object and out[col.name].notna().all():
            # a fully present object column gets its natural dtype (bool, int64, str): SDV's
            # fillna on such a column otherwise downcasts it with a pandas FutureWarning
            out[col.name] = out[col.name].infer_objects()
    return pd.DataFrame(out)


@contextlib.contextmanager
def _seeded(rng: np.random.Generator | None) -> Iterator[None]:
    """SDV and torch draw from global generators; seed them from ``rng`` and restore afterwards.
    (Non-DP randomness only: there is no DP noise in a baseline.)"""
    if rng is None:
        yield
        return
    state = np.random.get_state()
    seed = int(rng.integers(0, 2**31 - 1))
    np.random.seed(seed)
    try:
        import torch

        torch_state = torch.random.get_rng_state()
        torch.manual_seed(seed)
    except ImportError:  # pragma: no cover - torch comes with SDV
        torch_state = None
    try:
        yield
    finally:
        np.random.set_state(state)
        if torch_state is not None:
            torch.random.set_rng_state(torch_state)


def fit_baseline(
    frame: pd.DataFrame,
    schema: Schema,
    config: SynthesizerConfig,
    *,
    progress: Callable[[float, str], None] | None = None,
    rng: np.random.Generator | None = None,
) -> FittedModel:
    try:
        from sdv.single_table import CTGANSynthesizer, GaussianCopulaSynthesizer
    except ImportError:
        raise InvalidInputError(f"synthesizer {config.name} needs SDV: pip install 'synthgen[baselines]'") from None
    data = conform_to_schema(frame, schema)
    if len(data) < 2:
        raise InvalidInputError(f"data ({len(data)} rows) must have at least 2 rows for {config.name}")
    metadata = _sdv_metadata(schema)
    if isinstance(config, GaussianCopulaBaseline):
        synth = GaussianCopulaSynthesizer(metadata, enforce_min_max_values=True)
    elif isinstance(config, CTGANBaseline):
        synth = CTGANSynthesizer(metadata, epochs=config.epochs, enable_gpu=False)
    else:
        raise InvalidInputError(f"synthesizer ({config.name}) is not an SDV baseline")
    if progress:
        progress(0.1, f"fitting {config.label}")
    with _seeded(rng):
        synth.fit({TABLE: data})  # SDV 2.0 fits {table name: frame} (KNOWN-PITFALLS #10)
    info = build_info(
        schema=schema, config=config, budget=None, default_rows=float(len(data)),
        details={"privacy_unit": "none: not differentially private"},
    )
    if progress:
        progress(1.0, "done")
    return FittedModel(schema=schema, config=config, info=info, sampler=None,
                       baseline=lambda rows, rng: sample_baseline(synth, schema, rows, rng))


def sample_baseline(synth: Any, schema: Schema, rows: int, rng: np.random.Generator) -> pd.DataFrame:
    """``rows`` rows of the fitted SDV model ``synth`` in the schema's columns (identifier
    columns get fresh tokens or are left out, as the schema says)."""
    with _seeded(rng):
        sampled = synth.sample(num_rows=rows)
    if isinstance(sampled, dict):  # SDV 2.0 returns {table name: frame}
        sampled = sampled[TABLE]
    return in_schema_order(schema, rows, rng, lambda col: sampled[col.name])
