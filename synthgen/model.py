"""A fitted synthesizer: sample, save and load without pickle.

A saved model is a ZIP file with ``model.json`` (schema, synthesizer config, privacy spent,
library versions, the sampler's layout) and ``arrays.npz`` (the conditional tables, read with
``allow_pickle=False``). Loading never executes code from the file, and sampling from a loaded
model never touches the private data or spends budget: it only post-processes DP output.
"""

from __future__ import annotations

import hashlib
import io
import json
import platform
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import pandas as pd

from synthgen.encoding import decode
from synthgen.errors import InvalidInputError, ModelFileError
from synthgen.sampler import CompiledSampler
from synthgen.schema import Schema

if TYPE_CHECKING:  # the synthesizers package imports this module; avoid the cycle at run time
    from synthgen.synthesizers.config import SynthesizerConfig

FORMAT = "synthgen-model"
FORMAT_VERSION = 1
MAX_SAMPLE_ROWS = 50_000_000


def library_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("synthgen", "opendp", "mbi", "numpy", "pandas", "polars", "sdv"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


def check_rows(rows: Any) -> int:
    if isinstance(rows, bool) or not isinstance(rows, (int, np.integer)):
        raise InvalidInputError(f"rows ({rows!r}) must be a whole number")
    if not 1 <= int(rows) <= MAX_SAMPLE_ROWS:
        raise InvalidInputError(f"rows ({rows}) must be between 1 and {MAX_SAMPLE_ROWS:,}")
    return int(rows)


@dataclass
class FittedModel:
    """A fitted synthesizer. ``info`` is JSON metadata; DP models sample from ``sampler``."""

    schema: Schema
    config: "SynthesizerConfig"
    info: dict[str, Any]
    sampler: CompiledSampler | None = None
    #: non-DP baselines: ``baseline(rows, rng)`` samples the in-memory SDV model (set by
    #: ``synthgen.synthesizers.baselines``, which imports this module, not the other way round)
    baseline: Callable[[int, np.random.Generator], pd.DataFrame] | None = field(default=None, repr=False)
    #: Exact facts about the private table for its data owner and reviewing privacy officers only
    #: (how many rows the person-level bound set aside). Never in ``info``, never saved, never
    #: shown to an ML team: they are not paid from the budget.
    data_owner_facts: dict[str, int] = field(default_factory=dict, repr=False)

    @property
    def dp(self) -> bool:
        return bool(self.info.get("dp"))

    def privacy_summary(self, delta: float) -> dict | None:
        """The privacy summary (:func:`synthgen.budget.privacy_summary`) of this model at
        ``delta``, from the ρ OpenDP consumed; None for a non-DP baseline."""
        from synthgen.budget import privacy_summary

        if not self.dp:
            return None
        return privacy_summary(self.info["budget"]["rho"], delta, self.info.get("synthesizer", self.config.name))

    @property
    def default_rows(self) -> int:
        """Rows sampled when none are asked for: the DP estimate of the table size, never the
        exact count (for DP models)."""
        return max(1, int(round(self.info["default_rows"])))

    def sample(self, rows: int | None = None, *, rng: np.random.Generator) -> pd.DataFrame:
        """Synthetic rows decoded to the schema's dtypes. All randomness comes from ``rng``."""
        if not isinstance(rng, np.random.Generator):
            raise InvalidInputError(f"rng ({rng!r}) must be a numpy.random.Generator")
        n = self.default_rows if rows is None else check_rows(rows)
        if self.sampler is not None:
            codes = self.sampler.sample_codes(n, rng)
            return decode(codes, self.schema, rng)
        if self.baseline is not None:
            return self.baseline(n, rng)
        raise ModelFileError(
            "this model has no sampler: non-DP baselines are not saved to disk (SDV models would need pickle)"
        )

    # -- persistence ---------------------------------------------------------------------
    def sample_to_parquet(
        self, path: str | Path, rows: int | None = None, *, rng: np.random.Generator, chunk_rows: int = 1_000_000
    ) -> int:
        """Stream synthetic rows to a Parquet file, ``chunk_rows`` at a time (one row group each),
        so that tens of millions of rows never sit in memory together. The file appears under its
        name only once complete. Returns the number of rows written."""
        import os
        import tempfile

        import pyarrow as pa
        import pyarrow.parquet as pq

        if not isinstance(rng, np.random.Generator):
            raise InvalidInputError(f"rng ({rng!r}) must be a numpy.random.Generator")
        total = self.default_rows if rows is None else check_rows(rows)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        writer = None
        try:
            done = 0
            while done < total:
                n = min(chunk_rows, total - done)
                table = pa.Table.from_pandas(self.sample(n, rng=rng), preserve_index=False)
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema)
                writer.write_table(table.cast(writer.schema))
                done += n
            writer.close()
            writer = None
            os.replace(tmp, path)
        except BaseException:
            if writer is not None:
                writer.close()
            Path(tmp).unlink(missing_ok=True)
            raise
        return total

    def to_bytes(self) -> bytes:
        if self.sampler is None:
            raise ModelFileError(
                f"synthesizer {self.config.name} is a non-DP baseline and cannot be saved without pickle; "
                "sample from it in the same process instead"
            )
        header = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "schema": self.schema.to_dict(),
            "config": self.config.to_dict(),
            "info": self.info,
            "sampler": self.sampler.layout(),
        }
        arrays = io.BytesIO()
        np.savez_compressed(arrays, **self.sampler.to_arrays())
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("model.json", json.dumps(header, indent=2, allow_nan=False))
            zf.writestr("arrays.npz", arrays.getvalue())
        return out.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, source: str = "model file") -> "FittedModel":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                header = json.loads(zf.read("model.json").decode("utf-8"))
                with np.load(io.BytesIO(zf.read("arrays.npz")), allow_pickle=False) as npz:
                    arrays = {k: npz[k] for k in npz.files}
        except (zipfile.BadZipFile, KeyError, ValueError, UnicodeDecodeError, OSError):
            raise ModelFileError(f"{source} is not a synthgen model file") from None
        if header.get("format") != FORMAT:
            raise ModelFileError(f"{source} is not a synthgen model file")
        if header.get("format_version") != FORMAT_VERSION:
            raise ModelFileError(
                f"{source}: format_version ({header.get('format_version')!r}) must be {FORMAT_VERSION}"
            )
        schema = Schema.from_dict(header["schema"])
        info = header["info"]
        if schema.fingerprint() != info.get("schema_fingerprint"):
            raise ModelFileError(f"{source}: the schema does not match the fingerprint recorded at fit time")
        try:
            sampler = CompiledSampler.from_parts(header["sampler"], arrays)
        except (KeyError, ValueError) as exc:
            raise ModelFileError(f"{source}: corrupt model tables ({exc})") from None
        from synthgen.synthesizers.config import config_from_dict

        return cls(schema=schema, config=config_from_dict(header["config"]), info=info, sampler=sampler)

    def save(self, path: str | Path) -> None:
        from synthgen.io import atomic_write_bytes

        atomic_write_bytes(Path(path), self.to_bytes())

    @classmethod
    def load(cls, path: str | Path) -> "FittedModel":
        path = Path(path)
        if not path.is_file():
            raise ModelFileError(f"model file {str(path)!r} does not exist")
        return cls.from_bytes(path.read_bytes(), source=path.name)

    def sha256(self) -> str:
        return hashlib.sha256(self.to_bytes()).hexdigest()


def build_info(
    *, schema: Schema, config: "SynthesizerConfig", budget: dict[str, Any] | None, default_rows: float, details: dict[str, Any]
) -> dict[str, Any]:
    return {
        "dp": config.dp,
        "synthesizer": config.name,
        "synthesizer_label": config.label,
        "config": config.to_dict(),
        "schema_fingerprint": schema.fingerprint(),
        "schema_derived_from_private_data": schema.derived_from_private_data,
        "budget": budget,
        "default_rows": default_rows,
        "default_rows_source": "DP estimate of the table size" if config.dp else "size of the training table (not private)",
        # the day only: with the request's time, a fit's finishing second would time the fit,
        # and a fit's duration grows with the private table's size
        "fitted_on": datetime.now(timezone.utc).date().isoformat(),
        "versions": library_versions(),
        "accounting": details,
    }
