"""What the command groups share: one-line errors with the exit codes of the error table,
credentials (never a password from a flag), the HTTP client of the remote commands, and signing
in as an administrator for the local ones.

Remote commands talk to a running platform's HTTP API (``--url`` or ``SYNTHGEN_URL``, default
``http://localhost:8000``) with an API token (``--token`` or ``SYNTHGEN_TOKEN``) or, to manage
tokens, the account's password. Local administration opens the platform's database directly,
with the settings of the environment (``SYNTHGEN_DATA_DIR``, ``SYNTHGEN_DATABASE_URL``, key
settings), and runs as the (admin) user named by ``--username``: the service layer authorizes
and audits it like a dashboard action.

Every command that needs a password takes the user name from ``--username`` (or
``SYNTHGEN_USERNAME``) and the password from ``SYNTHGEN_PASSWORD`` or, on a terminal, a prompt
(never from a flag: it would end up in the shell history and the process list).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, NoReturn

from synthgen.errors import ERROR_KINDS, ErrorKind

EXIT_ERROR = ERROR_KINDS[ErrorKind.INTERNAL].exit_code
EXIT_BAD_INPUT = ERROR_KINDS[ErrorKind.BAD_INPUT].exit_code
EXIT_FORBIDDEN = ERROR_KINDS[ErrorKind.NOT_AUTHORISED].exit_code
DEFAULT_URL = "http://localhost:8000"
API = "/api/v1"
CHUNK = 1 << 20


def exit_code_for_status(status: int) -> int:
    """The exit code of an HTTP error answer, through the same table as local errors."""
    for rule in ERROR_KINDS.values():
        if rule.http_status == status:
            return rule.exit_code
    return EXIT_BAD_INPUT if 400 <= status < 500 else EXIT_ERROR


def die(code: int, message: str) -> NoReturn:
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
    raise SystemExit(code)


# -- credentials ----------------------------------------------------------------------------
def server_url(args: argparse.Namespace) -> str:
    url = (args.url or os.environ.get("SYNTHGEN_URL") or DEFAULT_URL).rstrip("/")
    if not url.startswith(("http://", "https://")):
        die(EXIT_BAD_INPUT, f"server URL ({url[:80]!r}) must start with http:// or https://")
    return url


def api_token_of(args: argparse.Namespace) -> str:
    token = args.token or os.environ.get("SYNTHGEN_TOKEN")
    if not token:
        die(EXIT_BAD_INPUT, "no API token: pass --token or set SYNTHGEN_TOKEN (create one with 'synthgen token create')")
    return token.strip()


def username_of(args: argparse.Namespace) -> str:
    name = args.username or os.environ.get("SYNTHGEN_USERNAME")
    if not name:
        die(EXIT_BAD_INPUT, "no user name: pass --username or set SYNTHGEN_USERNAME")
    return name


def password_for(username: str) -> str:
    password = os.environ.get("SYNTHGEN_PASSWORD")
    if password:
        return password
    if not sys.stdin.isatty():
        die(EXIT_BAD_INPUT, "no password: set SYNTHGEN_PASSWORD or run on a terminal to be prompted")
    import getpass

    return getpass.getpass(f"password for {username}: ")


# -- HTTP -----------------------------------------------------------------------------------
def api_client(args: argparse.Namespace, *, auth: Any = None, token: str | None = None):
    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=server_url(args) + API, headers=headers, auth=auth,
                        timeout=httpx.Timeout(30.0, read=300.0))


def check(response) -> Any:
    """Return the JSON body of a 2xx answer; otherwise exit with the server's one-line message."""
    if response.is_success:
        return response.json() if response.content else None
    try:
        message = response.json()["error"]["message"]
    except Exception:  # noqa: BLE001 - not our JSON error body
        message = response.reason_phrase or "request failed"
    status = response.status_code
    code = exit_code_for_status(status)
    die(code, f"{message} (HTTP {status})")


def request(client, method: str, path: str, **kwargs):
    import httpx

    try:
        return client.request(method, path, **kwargs)
    except httpx.TransportError as exc:
        die(EXIT_BAD_INPUT, f"cannot reach the synthgen API at {client.base_url}: {type(exc).__name__}: {exc}")


def basic_auth(args: argparse.Namespace) -> tuple[str, str]:
    user = username_of(args)
    return user, password_for(user)


def as_admin(args: argparse.Namespace, action):
    """Sign in the admin named by --username, run ``action(platform, actor)``, always close."""
    from app.core.config import Settings
    from app.core.services import Platform

    user = username_of(args)
    password = password_for(user)
    platform = Platform.open(Settings.from_env())
    try:
        return action(platform, platform.login(user, password).actor)
    finally:
        platform.close()


def user_id(platform, actor, name: str) -> int:
    for u in platform.list_users(actor):
        if u.username == name:
            return u.id
    die(EXIT_BAD_INPUT, f"user ({name[:64]!r}) does not exist")


def remote_flags(parser: argparse.ArgumentParser, *, token: bool) -> None:
    parser.add_argument("--url", help=f"API base URL (default: SYNTHGEN_URL or {DEFAULT_URL})")
    if token:
        parser.add_argument("--token", help="API token (default: SYNTHGEN_TOKEN)")


def user_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--username", help="your user name (default: SYNTHGEN_USERNAME); the password comes from "
                                           "SYNTHGEN_PASSWORD or a prompt")


def positive_int(name: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} ({text!r}) must be a whole number") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"{name} ({value}) must be positive")
        return value

    return parse
