"""Distance metrics: distance to closest record (DCR), NNDR and exact copies.

DCR. Rows are one-hot encoded on the schema's categories/bins (each categorical mismatch
contributes 1 to the squared distance) and numeric/datetime values are scaled to [0, 1] by the
schema bounds. Up to :data:`DCR_MAX_SYNTHETIC` synthetic rows are compared with equally many
training and control rows (the smaller of the two tables, at most :data:`DCR_MAX_REFERENCE`), so
that neither side wins by being larger. ``share`` is the share of synthetic rows strictly closer
to the training sample than to the control sample, ties counting one half; about 0.5 means the
synthesizer did not memorise. NNDR is the ratio of the distances to the nearest and
second-nearest training rows (0 = an isolated training row was reproduced; 1 when both are 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from synthgen.encoding import _to_seconds, encode_column, normalised
from synthgen.schema import Column

DCR_MAX_SYNTHETIC = 10_000
DCR_MAX_REFERENCE = 20_000


@dataclass(frozen=True)
class DcrResult:
    share: float
    interval: tuple[float, float]
    synthetic_rows: int
    reference_rows: int
    ties: float
    dcr_train_median: float
    dcr_control_median: float
    dcr_train_p05: float
    dcr_control_p05: float
    nndr_train_mean: float
    nndr_control_mean: float
    nndr_train_p05: float
    nndr_control_p05: float

    def details(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("share", "interval")}


@dataclass(frozen=True)
class ExactCopies:
    rate: float
    count: int
    synthetic_rows: int
    control_in_train_rate: float


def dcr_features(frame: pd.DataFrame, columns: list[Column]) -> np.ndarray:
    blocks = []
    for col in columns:
        values = frame[col.name].reset_index(drop=True)
        if col.kind in ("numeric", "datetime"):
            nums = _to_seconds(values) if col.kind == "datetime" else pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
            edges = col.edges()
            lo, hi = edges[0], edges[-1]
            missing = np.isnan(nums)
            scaled = (np.clip(np.where(missing, lo, nums), lo, hi) - lo) / (hi - lo)
            blocks.append(scaled[:, None])
            if missing.any() or col.nullable:
                blocks.append(missing.astype(float)[:, None])
        else:
            codes, _ = encode_column(col, values)
            card = col.cardinality + 1
            codes = np.where(codes < 0, card - 1, codes)
            onehot = np.zeros((len(codes), card))
            onehot[np.arange(len(codes)), codes] = 1.0 / math.sqrt(2.0)
            blocks.append(onehot)
    return np.hstack(blocks).astype(np.float32)


def _nearest(reference: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    from sklearn.neighbors import NearestNeighbors

    nn = NearestNeighbors(n_neighbors=min(k, len(reference)), algorithm="brute", n_jobs=2)
    nn.fit(reference)
    dists, _ = nn.kneighbors(queries)
    # float32 GEMM round-off: treat distances below 1e-3 as exact zeros.
    dists = np.where(dists < 1e-3, 0.0, dists)
    return dists


def dcr(train: pd.DataFrame, syn: pd.DataFrame, control: pd.DataFrame, columns: list[Column], rng: np.random.Generator) -> DcrResult:
    n_syn = min(len(syn), DCR_MAX_SYNTHETIC)
    m = min(len(train), len(control), DCR_MAX_REFERENCE)
    pick = lambda f, k: f.iloc[np.sort(rng.choice(len(f), size=k, replace=False))] if len(f) > k else f
    s = dcr_features(pick(syn, n_syn), columns)
    tr = dcr_features(pick(train, m), columns)
    co = dcr_features(pick(control, m), columns)
    d_tr = _nearest(tr, s, 2)
    d_co = _nearest(co, s, 2)
    closer = np.where(d_tr[:, 0] < d_co[:, 0], 1.0, np.where(d_tr[:, 0] == d_co[:, 0], 0.5, 0.0))
    share = float(closer.mean())
    half = 1.959963984540054 * math.sqrt(max(share * (1 - share), 1e-12) / len(closer))

    def nndr(d: np.ndarray) -> np.ndarray:
        if d.shape[1] < 2:
            return np.ones(len(d))
        return np.where(d[:, 1] > 0, d[:, 0] / np.where(d[:, 1] > 0, d[:, 1], 1.0), 1.0)

    r_tr, r_co = nndr(d_tr), nndr(d_co)
    return DcrResult(
        share=share,
        interval=(max(0.0, share - half), min(1.0, share + half)),
        synthetic_rows=int(len(s)),
        reference_rows=int(m),
        ties=float(np.mean(d_tr[:, 0] == d_co[:, 0])),
        dcr_train_median=float(np.median(d_tr[:, 0])),
        dcr_control_median=float(np.median(d_co[:, 0])),
        dcr_train_p05=float(np.quantile(d_tr[:, 0], 0.05)),
        dcr_control_p05=float(np.quantile(d_co[:, 0], 0.05)),
        nndr_train_mean=float(r_tr.mean()),
        nndr_control_mean=float(r_co.mean()),
        nndr_train_p05=float(np.quantile(r_tr, 0.05)),
        nndr_control_p05=float(np.quantile(r_co, 0.05)),
    )


def row_keys(frame: pd.DataFrame, columns: list[Column]) -> np.ndarray:
    """A 64-bit hash per row of the normalised values of ``columns`` (for exact-match tests)."""
    norm = {}
    for col in columns:
        values = frame[col.name].reset_index(drop=True)
        if col.kind == "numeric":
            norm[col.name] = pd.to_numeric(values, errors="coerce").astype(float)
        elif col.kind == "datetime":
            norm[col.name] = pd.Series(_to_seconds(values))
        else:
            norm[col.name] = normalised(values)
    if not norm:
        return np.zeros(len(frame), dtype=np.uint64)
    return pd.util.hash_pandas_object(pd.DataFrame(norm), index=False).to_numpy()


def exact_copies(train_keys: np.ndarray, syn_keys: np.ndarray, control_keys: np.ndarray) -> ExactCopies:
    in_train = np.isin(syn_keys, train_keys)
    n = len(syn_keys)
    rate = float(in_train.mean()) if n else 0.0
    return ExactCopies(
        rate=rate,
        count=int(in_train.sum()),
        synthetic_rows=int(n),
        control_in_train_rate=float(np.isin(control_keys, train_keys).mean()) if len(control_keys) else 0.0,
    )
