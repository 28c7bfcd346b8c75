"""Settings of the platform layer, read once from the environment.

* ``SYNTHGEN_DATA_DIR`` (default ``./synthgen-data``): encrypted tables, release artifacts and,
  for the embedded default, the SQLite database.
* ``SYNTHGEN_DATABASE_URL``: any SQLAlchemy URL (PostgreSQL: ``postgresql+psycopg://...``);
  default ``sqlite:///<data dir>/synthgen.db``.
* ``SYNTHGEN_MASTER_KEY``: base64 master key; otherwise the key file ``master.key`` in
  ``SYNTHGEN_KEY_DIR`` (default ``~/.config/synthgen``). The key directory must be outside the
  data directory, so that a copy of the data directory never carries its own key.
* ``SYNTHGEN_AUDIT_KEY``: base64 HMAC key of the audit log; otherwise ``audit.key`` in the key dir.
* ``SYNTHGEN_CREATE_KEYS`` (default: on for the embedded SQLite default, off otherwise):
  generate missing key files (0600) on first start.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Mapping

from synthgen.errors import InvalidInputError


def _truthy(value: str | None) -> bool | None:
    if value is None or value == "":
        return None
    return value.strip().lower() in ("1", "true", "yes", "on")


def _inside(child: Path, parent: Path) -> bool:
    try:
        child.resolve().relative_to(parent.resolve())
        return True
    except ValueError:
        return False


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    key_dir: Path
    master_key_env: str | None = field(default=None, repr=False)
    audit_key_env: str | None = field(default=None, repr=False)
    create_keys: bool = True
    session_idle_timeout: timedelta = timedelta(minutes=30)
    session_absolute_timeout: timedelta = timedelta(hours=12)
    job_stale_after: timedelta = timedelta(seconds=60)
    heartbeat_interval: float = 2.0
    max_upload_bytes: int = 200 * 1024 * 1024
    eval_n_attacks: int | None = None  # anonymeter attacks per risk metric (None: evaluation default)

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir).expanduser().absolute())
        object.__setattr__(self, "key_dir", Path(self.key_dir).expanduser().absolute())
        if _inside(self.key_dir, self.data_dir):
            raise InvalidInputError(
                f"key directory ({self.key_dir}) must be outside the data directory ({self.data_dir}): "
                "a copy of the data directory must never carry its own keys"
            )

    @property
    def master_key_file(self) -> Path:
        return self.key_dir / "master.key"

    @property
    def audit_key_file(self) -> Path:
        return self.key_dir / "audit.key"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        data_dir = Path(env.get("SYNTHGEN_DATA_DIR") or "./synthgen-data").expanduser().absolute()
        url = env.get("SYNTHGEN_DATABASE_URL") or f"sqlite:///{data_dir / 'synthgen.db'}"
        key_dir = Path(env.get("SYNTHGEN_KEY_DIR") or Path.home() / ".config" / "synthgen")
        create = _truthy(env.get("SYNTHGEN_CREATE_KEYS"))
        if create is None:
            create = url.startswith("sqlite")
        kwargs = {}
        if env.get("SYNTHGEN_SESSION_IDLE_MINUTES"):
            kwargs["session_idle_timeout"] = timedelta(minutes=float(env["SYNTHGEN_SESSION_IDLE_MINUTES"]))
        if env.get("SYNTHGEN_SESSION_ABSOLUTE_HOURS"):
            kwargs["session_absolute_timeout"] = timedelta(hours=float(env["SYNTHGEN_SESSION_ABSOLUTE_HOURS"]))
        return cls(
            data_dir=data_dir,
            database_url=url,
            key_dir=key_dir,
            master_key_env=env.get("SYNTHGEN_MASTER_KEY") or None,
            audit_key_env=env.get("SYNTHGEN_AUDIT_KEY") or None,
            create_keys=create,
            **kwargs,
        )

    def to_env(self) -> dict[str, str]:
        """Environment that makes a child process (worker) see the same settings."""
        env = {
            "SYNTHGEN_DATA_DIR": str(self.data_dir),
            "SYNTHGEN_DATABASE_URL": self.database_url,
            "SYNTHGEN_KEY_DIR": str(self.key_dir),
            "SYNTHGEN_CREATE_KEYS": "1" if self.create_keys else "0",
        }
        if self.master_key_env:
            env["SYNTHGEN_MASTER_KEY"] = self.master_key_env
        if self.audit_key_env:
            env["SYNTHGEN_AUDIT_KEY"] = self.audit_key_env
        return env
