"""Which values of a schema were read off the private table, column by column.

A schema drafted from the data carries categories, bounds and bin cuts read off the table. The
owner must replace them with public knowledge, or knowingly declare them public. This module
compares the schema being saved with the draft it came from and names, per column, every value
that is still the one read off the data, so the page can mark it in the editor and list it in the
confirmation step before a "reviewed" save.
"""

from __future__ import annotations

from typing import Any

FIELDS = (("categories", "categories"), ("lower", "lower bound"), ("upper", "upper bound"), ("cuts", "bin cuts"))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return [str(x) for x in a] == [str(x) for x in b]
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return a == b


def _short(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        text = ", ".join(map(str, value[:6])) + (f", … ({len(value)} in all)" if len(value) > 6 else "")
        return f"[{text}]"
    return str(value)


def data_derived_values(origin: dict[str, Any] | None, current: dict[str, Any]) -> dict[str, list[str]]:
    """{column: ["upper bound 80", ...]} for every value of ``current`` still equal to the one
    the data-drafted ``origin`` read off the table. Empty when ``origin`` is None (the schema did
    not come from the data) or every such value was replaced."""
    if not origin:
        return {}
    drafted = {c.get("name"): c for c in origin.get("columns", []) if isinstance(c, dict)}
    out: dict[str, list[str]] = {}
    for col in current.get("columns", []):
        old = drafted.get(col.get("name"))
        if not old or col.get("role") == "identifier":
            continue  # identifiers are never synthesized: nothing of them reaches a release
        marks = []
        for key, word in FIELDS:
            value = old.get(key)
            if value in (None, [], ()):
                continue
            if col.get(key) not in (None, [], ()) and _same(col.get(key), value):
                marks.append(f"{word} {_short(value)}")
        if marks:
            out[str(col.get("name"))] = marks
    return out


def describe(marks: dict[str, list[str]]) -> list[str]:
    """One line per column, for the confirmation step."""
    return [f"{name}: {'; '.join(values)}" for name, values in marks.items()]


def field_words(values: list[str]) -> str:
    """"categories, upper bound" from ["categories [A, B]", "upper bound 80"] (the editor's column)."""
    words = [word for _key, word in FIELDS if any(v.startswith(word + " ") for v in values)]
    return ", ".join(words)
