"""``python -m app.launcher`` (what ``make run`` calls): everything on the embedded default.

1. opens the Platform (creates keys for the embedded default, runs migrations);
2. on first start creates the ``admin`` account (password from ``SYNTHGEN_ADMIN_PASSWORD`` or
   generated and printed once);
3. with the demo on (``SYNTHGEN_DEMO=1``, the default for the embedded SQLite database; off with
   ``--no-demo``) loads the shipped Adult dataset and one demo user per role (printed once);
4. with OIDC sign-in configured (``SYNTHGEN_OIDC_*``, see ``app.core.config``) writes the
   dashboard's Streamlit secrets file (``[auth]``, mode 0600, in the key directory, never in the
   repository) and points Streamlit at it with ``--secrets.files``;
5. starts the worker, the HTTP API (when ``app.api`` exposes ``create_app``) and the dashboard
   (``streamlit run app/ui/streamlit_app.py`` through :mod:`app.ui.serve`, which adds security
   headers) as child processes and prints the URLs; with ``SYNTHGEN_TLS_CERT_FILE`` and
   ``SYNTHGEN_TLS_KEY_FILE`` set, both serve HTTPS only;
6. supervises them (:mod:`app.supervisor`): a child that dies is restarted, the others keep
   running; a job whose worker died is requeued by the new worker;
7. Ctrl-C (or SIGTERM) stops the children.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import sys
import time
from pathlib import Path

from app.core.crypto import write_secret_file
from app.supervisor import Supervisor

REPO = Path(__file__).resolve().parents[1]


def _api_available() -> bool:
    if importlib.util.find_spec("app.api") is None:
        return False
    try:
        import app.api as api  # noqa: PLC0415
    except Exception as exc:  # noqa: BLE001 - a half-written API must not stop the dashboard
        print(f"[synthgen] HTTP API not started: app.api failed to import ({type(exc).__name__})", flush=True)
        return False
    return callable(getattr(api, "create_app", None))


def bootstrap(load_demo: bool) -> list[str]:
    """Migrate, create the first admin, load the demo. Returns lines to print."""
    from app.core.config import Settings
    from app.core.demo import bootstrap as core_bootstrap
    from app.core.services import Platform

    settings = Settings.from_env()
    lines = []
    with Platform.open(settings) as platform:
        lines += [m for m in platform.startup_messages if m]
        result = core_bootstrap(platform, load_demo=load_demo)
        lines += result.messages
        if result.admin_password:
            lines.append(f"  admin login: admin / {result.admin_password}   (shown once — write it down)")
        for name, pw in result.demo_passwords.items():
            lines.append(f"  demo login:  {name} / {pw}")
    return lines


def write_dashboard_secrets(settings) -> Path | None:
    """Write the Streamlit secrets file for OIDC sign-in (None when OIDC is not configured).

    Rewritten at every start (temp file 0600, then rename): the provider's client secret lives
    in the environment, and the cookie secret, unless given, is fresh for each start (a restart
    only forgets identity cookies, which the dashboard accepts for a few minutes anyway)."""
    import secrets as _secrets

    path = settings.dashboard_secrets_file
    if settings.oidc is None:
        path.unlink(missing_ok=True)  # a stale file would keep an old provider configured
        return None
    text = settings.oidc.streamlit_secrets(settings.oidc.cookie_secret or _secrets.token_urlsafe(48))
    write_secret_file(path, text)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.launcher", description=__doc__.splitlines()[0])
    parser.add_argument("--no-demo", action="store_true", help="do not load the Adult demo dataset and demo users")
    parser.add_argument("--port", type=int, default=8501, help="dashboard port (default 8501)")
    parser.add_argument("--api-port", type=int, default=8000, help="HTTP API port (default 8000)")
    parser.add_argument("--address", default="localhost", help="dashboard address (default localhost)")
    parser.add_argument("--no-api", action="store_true", help="do not start the HTTP API")
    args = parser.parse_args(argv)

    from app.core.config import Settings
    from synthgen.errors import SynthgenError

    try:
        settings = Settings.from_env()
    except SynthgenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    demo_env = os.environ.get("SYNTHGEN_DEMO")
    load_demo = (settings.is_sqlite if demo_env in (None, "") else demo_env.strip().lower() in ("1", "true", "yes", "on"))
    if args.no_demo:
        load_demo = False
    print(f"[synthgen] data directory {settings.data_dir}; database "
          f"{'embedded SQLite' if settings.is_sqlite else settings.database_url.split('@')[-1]}", flush=True)
    for line in bootstrap(load_demo):
        print(f"[synthgen] {line}", flush=True)

    env = {**os.environ, **settings.to_env(), "SYNTHGEN_DEMO": "1" if load_demo else "0"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])
    supervisor = Supervisor(env=env, cwd=str(REPO), log=lambda m: print(f"[synthgen] {m}", flush=True))
    scheme = "https" if settings.tls else "http"

    supervisor.add("worker", [sys.executable, "-m", "app.core.worker"])
    api_url = None
    if not args.no_api and _api_available():
        api = [sys.executable, "-m", "uvicorn", "app.api:create_app", "--factory", "--host", "127.0.0.1",
               "--port", str(args.api_port), "--log-level", "warning", "--no-server-header"]
        if settings.tls:
            api += ["--ssl-certfile", str(settings.tls_cert_file), "--ssl-keyfile", str(settings.tls_key_file)]
        supervisor.add("api", api)
        api_url = f"{scheme}://127.0.0.1:{args.api_port}"
    dashboard = [sys.executable, "-m", "app.ui.serve", "run", str(REPO / "app" / "ui" / "streamlit_app.py"),
                 "--server.port", str(args.port), "--server.address", args.address,
                 "--server.headless", "true", "--browser.gatherUsageStats", "false"]
    if settings.tls:
        dashboard += ["--server.sslCertFile", str(settings.tls_cert_file),
                      "--server.sslKeyFile", str(settings.tls_key_file)]
    secrets_file = write_dashboard_secrets(settings)
    if secrets_file is not None:
        dashboard += ["--secrets.files", str(secrets_file)]
        print(f"[synthgen] dashboard sign-in with {settings.oidc.provider_name} (OIDC) enabled; "
              f"redirect URI {settings.oidc.redirect_uri.replace('{port}', str(args.port))}", flush=True)
    supervisor.add("dashboard", dashboard)
    print(f"[synthgen] dashboard: {scheme}://{args.address}:{args.port}", flush=True)
    if api_url:
        print(f"[synthgen] HTTP API:  {api_url}", flush=True)
    print("[synthgen] worker running; press Ctrl-C to stop everything", flush=True)

    stopping = False

    def _stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    code = 0
    try:
        while not stopping:
            supervisor.poll()
            time.sleep(0.5)
    finally:
        supervisor.stop()
        print("[synthgen] stopped", flush=True)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
