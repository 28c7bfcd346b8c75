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

Sign-in with an OpenID Connect provider (dashboard; off unless the first three are set):

* ``SYNTHGEN_OIDC_METADATA_URL``: the provider's discovery document
  (``https://.../.well-known/openid-configuration``).
* ``SYNTHGEN_OIDC_CLIENT_ID`` and ``SYNTHGEN_OIDC_CLIENT_SECRET``: the dashboard's client at the
  provider.
* ``SYNTHGEN_OIDC_PROVIDER`` (optional): the name on the button, "Sign in with <name>".
* ``SYNTHGEN_OIDC_REDIRECT_URI`` (default ``http://localhost:{port}/oauth2callback``; register
  it at the provider; ``{port}`` is the dashboard's port).
* ``SYNTHGEN_OIDC_COOKIE_SECRET`` (optional): signs Streamlit's identity cookie; generated
  afresh by the launcher at each start when unset.
* ``SYNTHGEN_OIDC_MAX_AGE_SECONDS`` (default 300): how recent the provider's sign-in must be
  for the dashboard to open a platform session from it.

TLS (off unless both are set): ``SYNTHGEN_TLS_CERT_FILE`` (PEM certificate chain) and
``SYNTHGEN_TLS_KEY_FILE`` (PEM private key). The API and the dashboard then serve HTTPS only on
their ports (a plain-HTTP request to them gets no answer), send HSTS and mark every cookie
``Secure``. Behind a reverse proxy that terminates TLS, leave them unset and bind to loopback
(see docs/operations.md).

Monitoring: ``SYNTHGEN_METRICS_TOKEN`` (at least 32 characters) turns on ``GET /metrics`` on the
API for a scraper that sends it as a bearer token; ``SYNTHGEN_ALERT_WEBHOOK_URL`` (https, or http
on localhost) receives alerts as JSON (see ``app.core.alerts``).

The launcher writes these into a Streamlit secrets file (``[auth]`` section, mode 0600, in the
key directory) and points Streamlit at it; nothing secret is stored in the repository.
"""

from __future__ import annotations

import hashlib

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


OIDC_REQUIRED = ("SYNTHGEN_OIDC_METADATA_URL", "SYNTHGEN_OIDC_CLIENT_ID", "SYNTHGEN_OIDC_CLIENT_SECRET")
OIDC_OPTIONAL = ("SYNTHGEN_OIDC_PROVIDER", "SYNTHGEN_OIDC_REDIRECT_URI", "SYNTHGEN_OIDC_COOKIE_SECRET",
                 "SYNTHGEN_OIDC_MAX_AGE_SECONDS")


@dataclass(frozen=True)
class OidcSettings:
    """The dashboard's OpenID Connect client (Streamlit's ``st.login``)."""

    server_metadata_url: str
    client_id: str
    client_secret: str = field(repr=False)
    provider_name: str = ""
    redirect_uri: str = "http://localhost:{port}/oauth2callback"
    cookie_secret: str | None = field(default=None, repr=False)
    max_age: timedelta = timedelta(minutes=5)

    def __post_init__(self) -> None:
        from urllib.parse import urlsplit

        from app.core.oidc import is_https_or_loopback

        for name, value in (("SYNTHGEN_OIDC_METADATA_URL", self.server_metadata_url),
                            ("SYNTHGEN_OIDC_REDIRECT_URI", self.redirect_uri)):
            if not is_https_or_loopback(value):
                raise InvalidInputError(f"{name} ({value[:80]!r}) must be an https URL (http only on localhost)")
        if not self.redirect_uri.endswith("/oauth2callback"):
            raise InvalidInputError(f"SYNTHGEN_OIDC_REDIRECT_URI ({self.redirect_uri[:80]!r}) must end with "
                                    "/oauth2callback (Streamlit's callback route)")
        if not self.client_id or not self.client_secret:
            raise InvalidInputError("SYNTHGEN_OIDC_CLIENT_ID and SYNTHGEN_OIDC_CLIENT_SECRET must not be empty")
        if self.cookie_secret is not None and len(self.cookie_secret) < 32:
            raise InvalidInputError("SYNTHGEN_OIDC_COOKIE_SECRET must be at least 32 characters of random text")
        if not timedelta(seconds=10) <= self.max_age <= timedelta(hours=1):
            raise InvalidInputError(f"SYNTHGEN_OIDC_MAX_AGE_SECONDS ({self.max_age.total_seconds():g}) must be "
                                    "between 10 and 3600")
        if not self.provider_name:
            object.__setattr__(self, "provider_name", urlsplit(self.server_metadata_url).hostname or "your provider")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "OidcSettings | None":
        given = [k for k in (*OIDC_REQUIRED, *OIDC_OPTIONAL) if env.get(k)]
        if not given:
            return None
        missing = [k for k in OIDC_REQUIRED if not env.get(k)]
        if missing:
            raise InvalidInputError(f"OIDC sign-in is half configured: {', '.join(given)} set but {', '.join(missing)} "
                                    "missing")
        kwargs: dict = {}
        if env.get("SYNTHGEN_OIDC_MAX_AGE_SECONDS"):
            try:
                kwargs["max_age"] = timedelta(seconds=float(env["SYNTHGEN_OIDC_MAX_AGE_SECONDS"]))
            except ValueError:
                raise InvalidInputError("SYNTHGEN_OIDC_MAX_AGE_SECONDS must be a number of seconds") from None
        if env.get("SYNTHGEN_OIDC_REDIRECT_URI"):
            kwargs["redirect_uri"] = env["SYNTHGEN_OIDC_REDIRECT_URI"]
        return cls(server_metadata_url=env["SYNTHGEN_OIDC_METADATA_URL"], client_id=env["SYNTHGEN_OIDC_CLIENT_ID"],
                   client_secret=env["SYNTHGEN_OIDC_CLIENT_SECRET"], provider_name=env.get("SYNTHGEN_OIDC_PROVIDER", ""),
                   cookie_secret=env.get("SYNTHGEN_OIDC_COOKIE_SECRET") or None, **kwargs)

    def streamlit_secrets(self, cookie_secret: str) -> str:
        """The ``[auth]`` section of a Streamlit secrets file (TOML) for ``st.login()``."""
        import json

        values = {"redirect_uri": self.redirect_uri, "cookie_secret": cookie_secret, "client_id": self.client_id,
                  "client_secret": self.client_secret, "server_metadata_url": self.server_metadata_url}
        # JSON string literals are valid TOML basic strings (quotes, backslashes, \uXXXX escapes)
        lines = ["# written by the synthgen launcher at each start; do not edit or commit", "[auth]"]
        lines += [f"{k} = {json.dumps(v)}" for k, v in values.items()]
        return "\n".join(lines) + "\n"


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
    oidc: OidcSettings | None = None  # dashboard sign-in with an OpenID Connect provider
    tls_cert_file: Path | None = None  # PEM certificate chain: API and dashboard serve HTTPS only
    tls_key_file: Path | None = None
    metrics_token: str | None = field(default=None, repr=False)  # bearer token of /metrics (off when None)
    alert_webhook_url: str | None = None  # alerts are also POSTed here (JSON)

    @property
    def dashboard_secrets_file(self) -> Path:
        """Streamlit secrets file the launcher writes (``[auth]`` for OIDC sign-in)."""
        return self.key_dir / "dashboard-secrets.toml"

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir).expanduser().absolute())
        object.__setattr__(self, "key_dir", Path(self.key_dir).expanduser().absolute())
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise InvalidInputError("SYNTHGEN_TLS_CERT_FILE and SYNTHGEN_TLS_KEY_FILE must be set together")
        for name, value in (("SYNTHGEN_TLS_CERT_FILE", self.tls_cert_file), ("SYNTHGEN_TLS_KEY_FILE", self.tls_key_file)):
            if value is not None:
                path = Path(value).expanduser().absolute()
                if not path.is_file():
                    raise InvalidInputError(f"{name} ({str(path)[:200]}) must name a readable PEM file")
                object.__setattr__(self, "tls_cert_file" if name.endswith("CERT_FILE") else "tls_key_file", path)
        if self.metrics_token is not None and len(self.metrics_token) < 32:
            raise InvalidInputError("SYNTHGEN_METRICS_TOKEN must be at least 32 characters of random text")
        if self.alert_webhook_url is not None:
            from app.core.oidc import is_https_or_loopback

            if not is_https_or_loopback(self.alert_webhook_url):
                raise InvalidInputError(f"SYNTHGEN_ALERT_WEBHOOK_URL ({self.alert_webhook_url[:80]!r}) must be an "
                                        "https URL (http only on localhost)")
        if _inside(self.key_dir, self.data_dir):
            raise InvalidInputError(
                f"key directory ({self.key_dir}) must be outside the data directory ({self.data_dir}): "
                "a copy of the data directory must never carry its own keys"
            )

    @property
    def tls(self) -> bool:
        return self.tls_cert_file is not None

    @property
    def master_key_file(self) -> Path:
        return self.key_dir / "master.key"

    @property
    def audit_key_file(self) -> Path:
        return self.key_dir / "audit.key"

    @property
    def audit_witness_file(self) -> Path:
        """The audit head, copied outside the database after every commit that appends to the
        log (one file per database: the name hashes the database URL)."""
        digest = hashlib.sha256(self.database_url.encode("utf-8")).hexdigest()[:16]
        return self.key_dir / f"audit-witness-{digest}"

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
        if env.get("SYNTHGEN_EVAL_N_ATTACKS"):
            kwargs["eval_n_attacks"] = int(env["SYNTHGEN_EVAL_N_ATTACKS"])
        if env.get("SYNTHGEN_SESSION_ABSOLUTE_HOURS"):
            kwargs["session_absolute_timeout"] = timedelta(hours=float(env["SYNTHGEN_SESSION_ABSOLUTE_HOURS"]))
        return cls(
            data_dir=data_dir,
            database_url=url,
            key_dir=key_dir,
            master_key_env=env.get("SYNTHGEN_MASTER_KEY") or None,
            audit_key_env=env.get("SYNTHGEN_AUDIT_KEY") or None,
            create_keys=create,
            oidc=OidcSettings.from_env(env),
            tls_cert_file=Path(env["SYNTHGEN_TLS_CERT_FILE"]) if env.get("SYNTHGEN_TLS_CERT_FILE") else None,
            tls_key_file=Path(env["SYNTHGEN_TLS_KEY_FILE"]) if env.get("SYNTHGEN_TLS_KEY_FILE") else None,
            metrics_token=env.get("SYNTHGEN_METRICS_TOKEN") or None,
            alert_webhook_url=env.get("SYNTHGEN_ALERT_WEBHOOK_URL") or None,
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
        if self.eval_n_attacks is not None:
            env["SYNTHGEN_EVAL_N_ATTACKS"] = str(self.eval_n_attacks)
        if self.master_key_env:
            env["SYNTHGEN_MASTER_KEY"] = self.master_key_env
        if self.audit_key_env:
            env["SYNTHGEN_AUDIT_KEY"] = self.audit_key_env
        if self.metrics_token:
            env["SYNTHGEN_METRICS_TOKEN"] = self.metrics_token
        if self.alert_webhook_url:
            env["SYNTHGEN_ALERT_WEBHOOK_URL"] = self.alert_webhook_url
        if self.tls:
            env["SYNTHGEN_TLS_CERT_FILE"] = str(self.tls_cert_file)
            env["SYNTHGEN_TLS_KEY_FILE"] = str(self.tls_key_file)
        return env
