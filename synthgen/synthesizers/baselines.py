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

from synthgen.encoding import fresh_tokens
from synthgen.errors import InvalidInputError
from synthgen.model import FittedModel, build_info
from synthgen.schema import Schema
from synthgen.synthesizers.config import CTGANBaseline, GaussianCopulaBaseline, SynthesizerConfig

TABLE = "table"


def _sdv_metadata(schema: Schema):
    from sdv.metadata import Metadata

    sdtypes = {"categorical": "categorical", "boolean": "boolean", "numeric": "numerical", "datetime": "datetime"}
    columns: dict[str, Any] = {}
    for col in schema.synthesized_columns:
        spec: dict[str, Any] = {"sdtype": sdtypes[col.kind]}
        if col.kind == "numeric":
            spec["computer_representation"] = "Int64" if col.integer else "Float"
        columns[col.name] = spec
    return Metadata.load_from_dict({"tables": {TABLE: {"columns": columns}}})


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
    data = frame[[c.name for c in schema.synthesized_columns]].copy()
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
        synth.fit(data)
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
    out: dict[str, pd.Series] = {}
    for col in schema.columns:
        if not col.synthesized:
            if col.identifier_output == "token":
                out[col.name] = fresh_tokens(col.name, rows, rng)
            continue
        out[col.name] = sampled[col.name].reset_index(drop=True)
    return pd.DataFrame(out)
