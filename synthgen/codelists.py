"""Public code lists and hierarchies that a schema column can declare instead of categories.

A column with hundreds of codes (ICD-9 diagnoses: 700+ in a hospital table) cannot be modelled
code by code, and listing the codes seen in the data would leak which ones occur. A *code list*
groups the codes by a public rule (ICD-9-CM chapters, for example): every raw value is mapped to
its group by that rule alone, row by row, so the map costs no privacy, and the groups, not the
codes, are what the synthesizer models and what the synthetic table contains.

A group is matched by ``prefix`` (the code starts with that text) or by ``range`` (the code's
leading number lies in ``[low, high]``, bounds included, fractions such as ``250.01`` counting as
``250``). The first matching group wins; a value that matches none is an unknown category (the
column's ``<missing>`` value when nullable, otherwise the row is left out).

Lists are declared in a schema column either by the name of a built-in list or inline::

    "code_list": "icd9-cm-chapters"
    "code_list": {"name": "age-bands", "groups": [{"label": "child", "range": [0, 17]}, ...]}
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from synthgen.errors import SchemaError

_LEADING_NUMBER = re.compile(r"^\s*(-?\d+(?:\.\d*)?)")


@dataclass(frozen=True)
class CodeGroup:
    label: str
    prefix: str | None = None
    low: float | None = None
    high: float | None = None

    def matches(self, code: str) -> bool:
        if self.prefix is not None:
            return code.upper().startswith(self.prefix.upper())
        found = _LEADING_NUMBER.match(code)
        if found is None:
            return False
        whole = math.floor(float(found.group(1)))
        return self.low <= whole <= self.high  # type: ignore[operator]

    def to_dict(self) -> dict[str, Any]:
        if self.prefix is not None:
            return {"label": self.label, "prefix": self.prefix}
        return {"label": self.label, "range": [_plain(self.low), _plain(self.high)]}


def _plain(number: float | None) -> float | int | None:
    return int(number) if number is not None and float(number).is_integer() else number


@dataclass(frozen=True)
class CodeList:
    """A named, public grouping of codes; ``labels`` are the categories a synthesizer sees."""

    name: str
    groups: tuple[CodeGroup, ...]
    source: str = ""
    builtin: bool = False

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(g.label for g in self.groups)

    def group_index(self, code: str | None) -> int | None:
        """Index of the first group matching ``code`` (normalised text), or None."""
        if code is None:
            return None
        for i, group in enumerate(self.groups):
            if group.matches(code):
                return i
        return None

    def to_json_value(self) -> Any:
        """What the schema stores: the name of a built-in list, or the whole inline list."""
        if self.builtin:
            return self.name
        out: dict[str, Any] = {"name": self.name, "groups": [g.to_dict() for g in self.groups]}
        if self.source:
            out["source"] = self.source
        return out


def _group_from(column: str, entry: Any) -> CodeGroup:
    where = f"column '{column}': code_list group"
    if not isinstance(entry, dict) or not isinstance(entry.get("label"), str) or not entry["label"].strip():
        raise SchemaError(f"{where} ({entry!r}) must be an object with a non-empty 'label'")
    unknown = sorted(set(entry) - {"label", "prefix", "range"})
    if unknown:
        raise SchemaError(f"{where} {entry['label']!r}: unknown field(s) {', '.join(unknown)}")
    if ("prefix" in entry) == ("range" in entry):
        raise SchemaError(f"{where} {entry['label']!r} must have exactly one of 'prefix' or 'range'")
    if "prefix" in entry:
        if not isinstance(entry["prefix"], str) or not entry["prefix"]:
            raise SchemaError(f"{where} {entry['label']!r}: prefix ({entry['prefix']!r}) must be non-empty text")
        return CodeGroup(label=entry["label"], prefix=entry["prefix"])
    bounds = entry["range"]
    if (
        not isinstance(bounds, list) or len(bounds) != 2
        or any(isinstance(b, bool) or not isinstance(b, (int, float)) or not math.isfinite(b) for b in bounds)
        or bounds[0] > bounds[1]
    ):
        raise SchemaError(f"{where} {entry['label']!r}: range ({bounds!r}) must be [low, high] numbers with low <= high")
    return CodeGroup(label=entry["label"], low=float(bounds[0]), high=float(bounds[1]))


def resolve_code_list(column: str, value: Any) -> CodeList:
    """The code list a column declares: a built-in name or an inline object."""
    if isinstance(value, CodeList):
        return value
    if isinstance(value, str):
        lists = builtin_code_lists()
        if value not in lists:
            raise SchemaError(
                f"column '{column}': code_list ({value!r}) must be one of the built-in lists "
                f"({', '.join(sorted(lists))}) or an inline object with 'name' and 'groups'"
            )
        return lists[value]
    if not isinstance(value, dict):
        raise SchemaError(f"column '{column}': code_list ({value!r}) must be a list name or an object")
    unknown = sorted(set(value) - {"name", "groups", "source"})
    if unknown:
        raise SchemaError(f"column '{column}': code_list has unknown field(s) {', '.join(unknown)}")
    groups = value.get("groups")
    if not isinstance(groups, list) or not groups:
        raise SchemaError(f"column '{column}': code_list.groups must list at least one group")
    parsed = tuple(_group_from(column, g) for g in groups)
    labels = [g.label for g in parsed]
    repeated = sorted({x for x in labels if labels.count(x) > 1})
    if repeated:
        raise SchemaError(f"column '{column}': code_list group label(s) {', '.join(map(repr, repeated))} repeated")
    return CodeList(name=str(value.get("name") or column), groups=parsed, source=str(value.get("source", "")))


# -- built-in lists ---------------------------------------------------------------------------
#: ICD-9-CM chapters (public: the chapter structure of the International Classification of
#: Diseases, 9th revision, Clinical Modification, published by the US National Center for Health
#: Statistics). Supplementary V and E codes are matched by their letter before the numeric ranges.
_ICD9_CHAPTERS: list[tuple[str, Any]] = [
    ("V01-V91 Supplementary factors influencing health status", "V"),
    ("E000-E999 External causes of injury", "E"),
    ("001-139 Infectious and parasitic diseases", (1, 139)),
    ("140-239 Neoplasms", (140, 239)),
    ("240-279 Endocrine, nutritional, metabolic and immunity disorders", (240, 279)),
    ("280-289 Diseases of the blood", (280, 289)),
    ("290-319 Mental disorders", (290, 319)),
    ("320-389 Nervous system and sense organs", (320, 389)),
    ("390-459 Circulatory system", (390, 459)),
    ("460-519 Respiratory system", (460, 519)),
    ("520-579 Digestive system", (520, 579)),
    ("580-629 Genitourinary system", (580, 629)),
    ("630-679 Pregnancy, childbirth and the puerperium", (630, 679)),
    ("680-709 Skin and subcutaneous tissue", (680, 709)),
    ("710-739 Musculoskeletal system and connective tissue", (710, 739)),
    ("740-759 Congenital anomalies", (740, 759)),
    ("760-779 Conditions originating in the perinatal period", (760, 779)),
    ("780-799 Symptoms, signs and ill-defined conditions", (780, 799)),
    ("800-999 Injury and poisoning", (800, 999)),
]


@lru_cache(maxsize=1)
def builtin_code_lists() -> dict[str, CodeList]:
    icd9 = CodeList(
        name="icd9-cm-chapters",
        groups=tuple(
            CodeGroup(label=label, prefix=rule) if isinstance(rule, str) else CodeGroup(label=label, low=rule[0], high=rule[1])
            for label, rule in _ICD9_CHAPTERS
        ),
        source="ICD-9-CM chapter structure (US National Center for Health Statistics), public",
        builtin=True,
    )
    return {icd9.name: icd9}


#: What an ICD-9-CM code looks like: up to three digits (leading zeros are often lost: "8" for
#: "008"), or V + two digits, or E + three, with optional decimals.
ICD9_CODE = re.compile(r"^(\d{1,3}|V\d{2}|E\d{3})(\.\d{1,2})?$", re.IGNORECASE)
