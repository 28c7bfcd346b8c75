"""Synthesizer configurations: frozen, validated, JSON round-trippable.

Configuration is kept apart from execution (as in OpenDP): a config says *what* to run and is
checked completely before any private data is read.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar

from synthgen.errors import InvalidInputError


def _check_fraction(name: str, value: float, *, low_open: bool = True) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInputError(f"{name} ({value!r}) must be a number")
    if not (0 < value <= 1 if low_open else 0 <= value <= 1):
        raise InvalidInputError(f"{name} ({value}) must be in (0, 1]")


def _check_positive_int(name: str, value: Any, maximum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise InvalidInputError(f"{name} ({value!r}) must be an integer between 1 and {maximum}")


@dataclass(frozen=True)
class SynthesizerConfig:
    name: ClassVar[str] = ""
    label: ClassVar[str] = ""
    #: the name people know it by, and when to choose it (shown beside it in the dashboard)
    short_name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    #: what the synthetic table keeps of the real one and what it loses (CLI help, dashboard)
    tradeoff: ClassVar[str] = ""
    dp: ClassVar[bool] = True

    def to_dict(self) -> dict[str, Any]:
        return {"synthesizer": self.name, "dp": self.dp, **asdict(self)}


@dataclass(frozen=True)
class MST(SynthesizerConfig):
    """MST (McKenna, Miklau, Sheldon 2021): one-way marginals, a private maximum spanning tree of
    two-way marginals, then a graphical model fitted to the noisy measurements.

    ``estimation_iters`` bounds the mirror-descent iterations of each model fit; it is
    post-processing, so it changes speed and accuracy, never privacy.
    """

    name: ClassVar[str] = "mst"
    label: ClassVar[str] = "MST (differentially private)"
    short_name: ClassVar[str] = "MST"
    summary: ClassVar[str] = "fast; good for many columns"
    tradeoff: ClassVar[str] = (
        "keeps every column's distribution and the strongest pairs, chained in one tree; loses every pair "
        "not on the tree and all interactions of three or more columns")
    #: share of ρ for the one-way marginals (a third, as in the MST paper; measured on Adult at
    #: ε=1 this beat OpenDP's default half: TSTR AUC 0.875-0.893 against 0.806-0.822)
    oneway_share: float = 1 / 3
    #: share of the rest for measuring the selected pairs; the remainder selects them
    measure_split: float = 0.9
    estimation_iters: int = 1000

    def __post_init__(self) -> None:
        _check_fraction("oneway_share", self.oneway_share)
        if self.oneway_share >= 1:
            raise InvalidInputError(f"oneway_share ({self.oneway_share}) must be in (0, 1)")
        _check_fraction("measure_split", self.measure_split)
        _check_positive_int("estimation_iters", self.estimation_iters, 10_000)


@dataclass(frozen=True)
class AIM(SynthesizerConfig):
    """AIM (McKenna et al. 2022): adaptively selects and measures the worst-approximated marginals
    of a workload (all 1-, 2- and ``max_degree``-way marginals) until the budget is used.

    ``max_model_mb`` caps the graphical model's size (memory and time). ``rounds`` sets the first
    round's share of the budget (ρ / rounds) and so roughly the number of rounds; the default is
    4 × columns rather than the paper's 16 × columns, because OpenDP's AIM grows the size cap with
    the budget spent and stops for good when no candidate fits, which with 16 × columns and a
    16 MB cap left most of the budget unused on Adult (measured: 9 rounds, 5 pairs, TSTR AUC 0.48).
    Measured on Adult at ε = 1 (benchmarks/README.md): 2 × columns with 80 MB gave 3-way TVD
    0.080 and TSTR AUC 0.867; 4 × columns with 160 MB gave 0.068 and 0.900.

    Each round's model is fitted by mirror descent in NumPy (``_numpy_md``): mbi's JAX version
    compiled anew every round, which was three quarters of AIM's time on Adult.
    """

    name: ClassVar[str] = "aim"
    label: ClassVar[str] = "AIM (differentially private)"
    short_name: ClassVar[str] = "AIM"
    summary: ClassVar[str] = "adaptive marginals; most accurate, slower"
    tradeoff: ClassVar[str] = (
        "keeps the one- and two-way marginals it finds worst approximated, round after round, and the "
        "interactions its model builds from them; loses pairs it never measures, and time: "
        "its fit grows fast with the number of columns")
    #: share of ρ for the initial one-way marginals (OpenDP's default is half; measured on Adult at
    #: ε=1 with 30 rounds: 0.1 gave 3-way TVD 0.081 and TSTR AUC 0.884, against 0.119 and 0.768)
    oneway_share: float = 0.1
    #: the one-way marginals are measured again, up to this share in all, when the first
    #: measurement's noise would move a column's distribution by more than ``oneway_target_tvd``
    #: on average at the table's DP-estimated size (synthgen.synthesizers._aim). 0.5 is OpenDP's
    #: own default share. Measured at ε = 1: Titanic (624 rows) passed the utility gates in 20 of
    #: 20 fits at 0.5 against 8 of 20 at 0.1; Adult, Bank Marketing and Diabetes 130 never reach
    #: the target's trigger, so their fits are unchanged (benchmarks/README.md).
    oneway_share_max: float = 0.5
    oneway_target_tvd: float = 0.05
    measure_split: float = 0.9
    max_degree: int = 2
    max_model_mb: float = 160.0
    rounds: int | None = None
    estimation_iters: int = 100
    #: mirror-descent iterations added to the last round's fit (post-processing, no budget).
    #: Measured on Adult at ε = 1, 2 fits each: 0 gave 3-way TVD 0.070 and AUC 0.902 in 22 CPU
    #: seconds; 1000 gave 0.066 and 0.901 in 32.
    final_iters: int = 1000
    #: the column the release is meant to predict (the data owner or requester names it, so it is
    #: public). AIM weights the workload's pairs holding it by ``target_weight``: on the hospital
    #: table an unweighted AIM measured 1 of 47 pairs with ``readmitted`` and its synthetic model
    #: kept about half of the real model's skill (benchmarks/README.md, "Target-aware AIM").
    target: str | None = None
    #: weight of the pairs holding ``target`` against 1 for every other pair; ignored without a target
    target_weight: float = 8.0

    def __post_init__(self) -> None:
        _check_fraction("measure_split", self.measure_split)
        if self.target is not None and (not isinstance(self.target, str) or not self.target.strip()):
            raise InvalidInputError(f"target ({self.target!r}) must be a column name")
        if isinstance(self.target_weight, bool) or not isinstance(self.target_weight, (int, float)) \
                or not 1 <= self.target_weight <= 100:
            raise InvalidInputError(f"target_weight ({self.target_weight!r}) must be between 1 and 100")
        if isinstance(self.oneway_share, bool) or not isinstance(self.oneway_share, (int, float)) or not 0 < self.oneway_share < 1:
            raise InvalidInputError(f"oneway_share ({self.oneway_share!r}) must be in (0, 1)")
        if isinstance(self.oneway_share_max, bool) or not isinstance(self.oneway_share_max, (int, float)) \
                or not self.oneway_share <= self.oneway_share_max < 1:
            raise InvalidInputError(
                f"oneway_share_max ({self.oneway_share_max!r}) must be at least oneway_share ({self.oneway_share}) and below 1")
        if isinstance(self.oneway_target_tvd, bool) or not isinstance(self.oneway_target_tvd, (int, float)) \
                or not 0 < self.oneway_target_tvd <= 1:
            raise InvalidInputError(f"oneway_target_tvd ({self.oneway_target_tvd!r}) must be in (0, 1]")
        _check_positive_int("max_degree", self.max_degree, 3)
        if isinstance(self.max_model_mb, bool) or not isinstance(self.max_model_mb, (int, float)) or not 0.1 <= self.max_model_mb <= 1024:
            raise InvalidInputError(f"max_model_mb ({self.max_model_mb!r}) must be between 0.1 and 1024")
        if self.rounds is not None:
            _check_positive_int("rounds", self.rounds, 10_000)
        _check_positive_int("estimation_iters", self.estimation_iters, 10_000)
        if self.final_iters != 0:
            _check_positive_int("final_iters", self.final_iters, 10_000)


@dataclass(frozen=True)
class GaussianCopulaBaseline(SynthesizerConfig):
    """SDV's GaussianCopula. NOT differentially private: a labelled baseline only."""

    name: ClassVar[str] = "gaussian_copula"
    label: ClassVar[str] = "Gaussian copula (SDV) - no formal privacy"
    short_name: ClassVar[str] = "Gaussian copula"
    tradeoff: ClassVar[str] = "keeps each column's distribution and linear correlations; no privacy guarantee"
    dp: ClassVar[bool] = False


@dataclass(frozen=True)
class CTGANBaseline(SynthesizerConfig):
    """SDV's CTGAN. NOT differentially private: a labelled baseline only."""

    name: ClassVar[str] = "ctgan"
    label: ClassVar[str] = "CTGAN (SDV) - no formal privacy"
    short_name: ClassVar[str] = "CTGAN"
    tradeoff: ClassVar[str] = "learns the joint distribution with a neural network; can memorise rows, no privacy guarantee"
    dp: ClassVar[bool] = False
    epochs: int = 100

    def __post_init__(self) -> None:
        _check_positive_int("epochs", self.epochs, 10_000)


#: every synthesizer, in the order front ends offer them (synthgen.synthesizers.registry reads this)
SYNTHESIZERS: dict[str, type[SynthesizerConfig]] = {
    cls.name: cls for cls in (AIM, MST, GaussianCopulaBaseline, CTGANBaseline)
}


def config_from_dict(data: dict[str, Any]) -> SynthesizerConfig:
    """Rebuild a config from ``to_dict()`` output, with clear errors for unknown names/fields."""
    if not isinstance(data, dict):
        raise InvalidInputError(f"synthesizer config ({data!r}) must be an object")
    name = data.get("synthesizer")
    if name not in SYNTHESIZERS:
        raise InvalidInputError(f"synthesizer ({name!r}) must be one of {', '.join(SYNTHESIZERS)}")
    cls = SYNTHESIZERS[name]
    allowed = {f.name for f in fields(cls)}
    kwargs = {k: v for k, v in data.items() if k not in ("synthesizer", "dp")}
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        raise InvalidInputError(f"synthesizer {name}: unknown option(s) {', '.join(unknown)}")
    return cls(**kwargs)


def config_by_name(name: str, **options: Any) -> SynthesizerConfig:
    return config_from_dict({"synthesizer": name, **options})
