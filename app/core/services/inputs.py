"""Small checks and helpers shared by the services: free text from users, hashes, bounded IN lists."""

from __future__ import annotations

import hashlib
from typing import Any, Iterator

from synthgen.errors import InvalidInputError

NAME_MAX = 200
REASON_MAX = 2000


def clean_text(value: Any, field_name: str, *, required: bool = True, max_len: int = REASON_MAX) -> str:
    """Free text (a reason, a name) stripped and checked: text, not empty when ``required``, at
    most ``max_len`` characters, no control characters but newline and tab."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInputError(f"{field_name} must be text, not {type(value).__name__}")
    value = value.strip()
    if required and not value:
        raise InvalidInputError(f"{field_name} must not be empty: write down why")
    if len(value) > max_len:
        raise InvalidInputError(f"{field_name} ({len(value)} characters) must be at most {max_len} characters")
    if any(ord(c) < 32 and c not in "\n\t" for c in value):
        raise InvalidInputError(f"{field_name} must not contain control characters")
    return value


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def chunks(ids: list[int], size: int = 500) -> Iterator[list[int]]:
    """Bounded IN lists (SQLite limits bound parameters per statement)."""
    for i in range(0, len(ids), size):
        yield ids[i:i + size]


def require_table(ds, what: str) -> None:
    """Refuse ``what`` on a dataset registered from a federated fit: the platform holds no table of
    it (every site kept its own), and its budget is the fit's, already spent at the sites."""
    if ds.table_path is None:
        from synthgen.errors import InvalidInputError

        raise InvalidInputError(f"dataset {ds.id} ({ds.name!r}) is a federated fit with no table on the platform: "
                                f"it cannot {what}; its one release is the fit's, and a new fit runs at the sites")
