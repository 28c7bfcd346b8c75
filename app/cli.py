"""Platform subcommands of ``synthgen`` (registered by ``synthgen/cli.py`` through :func:`register`).

Remote (HTTP API of a running platform; ``--url`` or ``SYNTHGEN_URL``, default
``http://localhost:8000``):

* ``synthgen releases list [--dataset NAME] [--json]``        (API token)
* ``synthgen releases download ID [--format parquet|csv] [-o DIR]``  (API token; verifies the
  SHA-256 against the manifest, writes ``DIR/release-ID-synthetic.<fmt>`` and the manifest)
* ``synthgen token create|list|revoke``                        (user name + password)

The API token comes from ``--token`` or ``SYNTHGEN_TOKEN``. Token management takes the account's
password instead (an API token may not mint tokens).

Local administration (opens the platform's database directly, with the settings of the
environment: ``SYNTHGEN_DATA_DIR``, ``SYNTHGEN_DATABASE_URL``, key settings):

* ``synthgen user add NAME --role ROLE``, ``user disable NAME``, ``user role NAME ROLE``,
  ``user link-oidc NAME --issuer URL --subject SUB``, ``user unlink-oidc NAME``
* ``synthgen keys rotate``
* ``synthgen audit verify``: no sign-in, writes nothing, never creates keys
* ``synthgen admin init [--username NAME]``: the first administrator of an empty installation
  (e.g. a new PostgreSQL database); password from ``SYNTHGEN_NEW_PASSWORD``, a prompt, or
  generated and shown once

Every command that needs a password takes the user name from ``--username`` (or
``SYNTHGEN_USERNAME``) and the password from ``SYNTHGEN_PASSWORD`` or, on a terminal, a prompt
(never from a flag: it would end up in the shell history and the process list). Administration
runs as that (admin) user: the service layer authorizes and audits it like a dashboard action.

Errors are one line on stderr. Exit codes: 2 bad input (including a checksum mismatch and an
unreachable server), 3 not authenticated or not allowed, 1 a server error or a failed audit check.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

EXIT_ERROR = 1
EXIT_BAD_INPUT = 2
EXIT_FORBIDDEN = 3
DEFAULT_URL = "http://localhost:8000"
API = "/api/v1"
CHUNK = 1 << 20


def _die(code: int, message: str) -> NoReturn:
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
    raise SystemExit(code)


# -- credentials ----------------------------------------------------------------------------
def _url(args: argparse.Namespace) -> str:
    url = (args.url or os.environ.get("SYNTHGEN_URL") or DEFAULT_URL).rstrip("/")
    if not url.startswith(("http://", "https://")):
        _die(EXIT_BAD_INPUT, f"server URL ({url[:80]!r}) must start with http:// or https://")
    return url


def _token(args: argparse.Namespace) -> str:
    token = args.token or os.environ.get("SYNTHGEN_TOKEN")
    if not token:
        _die(EXIT_BAD_INPUT, "no API token: pass --token or set SYNTHGEN_TOKEN (create one with 'synthgen token create')")
    return token.strip()


def _username(args: argparse.Namespace) -> str:
    name = args.username or os.environ.get("SYNTHGEN_USERNAME")
    if not name:
        _die(EXIT_BAD_INPUT, "no user name: pass --username or set SYNTHGEN_USERNAME")
    return name


def _password(username: str) -> str:
    password = os.environ.get("SYNTHGEN_PASSWORD")
    if password:
        return password
    if not sys.stdin.isatty():
        _die(EXIT_BAD_INPUT, "no password: set SYNTHGEN_PASSWORD or run on a terminal to be prompted")
    import getpass

    return getpass.getpass(f"password for {username}: ")


# -- HTTP -----------------------------------------------------------------------------------
def _client(args: argparse.Namespace, *, auth: Any = None, token: str | None = None):
    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=_url(args) + API, headers=headers, auth=auth,
                        timeout=httpx.Timeout(30.0, read=300.0))


def _check(response) -> Any:
    """Return the JSON body of a 2xx answer; otherwise exit with the server's one-line message."""
    if response.is_success:
        return response.json() if response.content else None
    try:
        message = response.json()["error"]["message"]
    except Exception:  # noqa: BLE001 - not our JSON error body
        message = response.reason_phrase or "request failed"
    status = response.status_code
    code = EXIT_FORBIDDEN if status in (401, 403) else EXIT_BAD_INPUT if 400 <= status < 500 else EXIT_ERROR
    _die(code, f"{message} (HTTP {status})")


def _request(client, method: str, path: str, **kwargs):
    import httpx

    try:
        return client.request(method, path, **kwargs)
    except httpx.TransportError as exc:
        _die(EXIT_BAD_INPUT, f"cannot reach the synthgen API at {client.base_url}: {type(exc).__name__}: {exc}")


# -- releases -------------------------------------------------------------------------------
def cmd_releases_list(args: argparse.Namespace) -> int:
    params = {"dataset": args.dataset} if args.dataset else {}
    with _client(args, token=_token(args)) as client:
        releases = _check(_request(client, "GET", "/releases", params=params))["releases"]
    if args.json:
        print(json.dumps(releases, indent=2))
        return 0
    if not releases:
        print("no releases visible to you", file=sys.stderr)
        return 0
    print(f"{'ID':>5}  {'DATASET':<20} {'STATE':<10} {'SYNTHESIZER':<15} {'EPSILON':>8}  UPDATED")
    for r in releases:
        eps = f"{r['epsilon']:.3g}" if r["epsilon"] is not None else "non-DP"
        print(f"{r['id']:>5}  {r['dataset'][:20]:<20} {r['state']:<10} {r['synthesizer'][:15]:<15} {eps:>8}  "
              f"{r['updated_at'][:19]}")
    return 0


def download_release(args: argparse.Namespace) -> Path:
    """Download, verify against the manifest, then rename into place; returns the file."""
    out_dir = Path(args.output)
    if out_dir.exists() and not out_dir.is_dir():
        _die(EXIT_BAD_INPUT, f"output ({out_dir}) must be a directory")
    out_dir.mkdir(parents=True, exist_ok=True)
    name = f"synthetic.{args.format}"
    with _client(args, token=_token(args)) as client:
        manifest = _check(_request(client, "GET", f"/releases/{args.id}/manifest"))
        expected = (manifest.get("files", {}).get(name) or {}).get("sha256")
        if not expected:
            _die(EXIT_BAD_INPUT, f"the manifest of release {args.id} lists no {name}")
        final = out_dir / f"release-{args.id}-synthetic.{args.format}"
        tmp = out_dir / f".{final.name}.{os.getpid()}.part"
        digest = hashlib.sha256()
        size = 0
        try:
            import httpx

            try:
                with client.stream("GET", f"/releases/{args.id}/download", params={"format": args.format}) as resp:
                    if not resp.is_success:
                        resp.read()
                        _check(resp)
                    announced = resp.headers.get("x-checksum-sha256")
                    with open(tmp, "wb") as fh:
                        for block in resp.iter_bytes(CHUNK):
                            digest.update(block)
                            size += len(block)
                            fh.write(block)
                        fh.flush()
                        os.fsync(fh.fileno())
            except httpx.TransportError as exc:
                _die(EXIT_ERROR, f"download of release {args.id} was interrupted: {type(exc).__name__}: {exc}")
            actual = digest.hexdigest()
            if actual != expected:
                _die(EXIT_BAD_INPUT, f"checksum mismatch for {final.name}: expected SHA-256 {expected} (manifest), "
                                     f"got {actual}; the download was discarded")
            if announced and announced != expected:
                _die(EXIT_BAD_INPUT, f"checksum mismatch for {final.name}: server announced {announced}, manifest "
                                     f"says {expected}; the download was discarded")
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
    manifest_path = out_dir / f"release-{args.id}-manifest.json"
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"verified SHA-256 {expected} ({size:,} bytes) against the manifest", file=sys.stderr)
    return final


def cmd_releases_download(args: argparse.Namespace) -> int:
    print(download_release(args))
    return 0


# -- tokens ---------------------------------------------------------------------------------
def _basic(args: argparse.Namespace) -> tuple[str, str]:
    user = _username(args)
    return user, _password(user)


def cmd_token_create(args: argparse.Namespace) -> int:
    if not 0 < args.ttl_days <= 365:
        _die(EXIT_BAD_INPUT, f"--ttl-days ({args.ttl_days:g}) must be more than 0 and at most 365")
    with _client(args, auth=_basic(args)) as client:
        info = _check(_request(client, "POST", "/tokens", json={"ttl_days": args.ttl_days}))
    print(f"token {info['id']} ({info['prefix']}...) for {info['user']}, expires {info['expires_at']}; "
          "it is shown only once:", file=sys.stderr)
    print(info["token"])
    return 0


def cmd_token_list(args: argparse.Namespace) -> int:
    with _client(args, auth=_basic(args)) as client:
        tokens = _check(_request(client, "GET", "/tokens"))["tokens"]
    for t in tokens:
        print(f"{t['id']:>5}  {t['prefix']}...  {t['user']:<20} expires {t['expires_at'][:19]}"
              f"{'  REVOKED' if t['revoked'] else ''}")
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    with _client(args, auth=_basic(args)) as client:
        _check(_request(client, "DELETE", f"/tokens/{args.id}"))
    print(f"revoked token {args.id}", file=sys.stderr)
    return 0


# -- local administration -------------------------------------------------------------------
def _as_admin(args: argparse.Namespace, action):
    """Sign in the admin named by --username, run ``action(platform, actor)``, always close."""
    from app.core.config import Settings
    from app.core.services import Platform

    user = _username(args)
    password = _password(user)
    platform = Platform.open(Settings.from_env())
    try:
        return action(platform, platform.login(user, password).actor)
    finally:
        platform.close()


def _user_id(platform, actor, name: str) -> int:
    for u in platform.list_users(actor):
        if u.username == name:
            return u.id
    _die(EXIT_BAD_INPUT, f"user ({name[:64]!r}) does not exist")


def cmd_user_add(args: argparse.Namespace) -> int:
    new_password = os.environ.get("SYNTHGEN_NEW_PASSWORD") or None
    info = _as_admin(args, lambda platform, actor: platform.create_user(actor, args.name, new_password, args.role))
    print(f"created user {info.username} ({info.role}), id {info.id}", file=sys.stderr)
    if info.generated_password:
        print(f"generated password (shown once): {info.generated_password}")
    return 0


def cmd_user_disable(args: argparse.Namespace) -> int:
    info = _as_admin(args, lambda platform, actor: platform.disable_user(actor, _user_id(platform, actor, args.name)))
    print(f"disabled user {info.username}; their sessions and API tokens stop working now", file=sys.stderr)
    return 0


def cmd_user_role(args: argparse.Namespace) -> int:
    info = _as_admin(args, lambda platform, actor: platform.set_role(actor, _user_id(platform, actor, args.name),
                                                                      args.role))
    print(f"user {info.username} is now {info.role}", file=sys.stderr)
    return 0


def cmd_user_link_oidc(args: argparse.Namespace) -> int:
    info = _as_admin(args, lambda platform, actor: platform.link_oidc_identity(
        actor, _user_id(platform, actor, args.name), args.issuer, args.subject))
    print(f"user {info.username} now signs in with issuer {info.oidc_issuer}, subject {info.oidc_subject}",
          file=sys.stderr)
    return 0


def cmd_user_unlink_oidc(args: argparse.Namespace) -> int:
    info = _as_admin(args, lambda platform, actor: platform.unlink_oidc_identity(
        actor, _user_id(platform, actor, args.name)))
    print(f"user {info.username} has no identity-provider login any more", file=sys.stderr)
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    new_key = os.environ.get("SYNTHGEN_NEW_MASTER_KEY") or None
    print(_as_admin(args, lambda platform, actor: platform.rotate_keys(actor, new_key)))
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    """Verify without signing in and without writing: a login would append an audit entry signed
    with whatever key this process loaded, before anything had checked that key. Keys are never
    created here (a wrong key directory must fail, not produce a fresh key)."""
    from app.core.config import Settings
    from app.core.services import Platform

    platform = Platform.open(Settings.from_env().with_(create_keys=False), migrate=False)
    try:
        result = platform.verify_audit_chain()
    finally:
        platform.close()
    if result.ok:
        print(f"audit log ok: {result.checked} entries, hash chain, signatures and head verified")
        return 0
    for problem in result.problems[:20]:
        print(f"problem: {problem}", file=sys.stderr)
    print(f"error: audit log verification FAILED ({len(result.problems)} problems in {result.checked} entries)",
          file=sys.stderr)
    return EXIT_ERROR


def _new_admin_password(name: str) -> str | None:
    """SYNTHGEN_NEW_PASSWORD, else a prompt (twice) on a terminal, else None (generated)."""
    password = os.environ.get("SYNTHGEN_NEW_PASSWORD")
    if password or not sys.stdin.isatty():
        return password or None
    import getpass

    first = getpass.getpass(f"new password for {name} (empty: generate one): ")
    if first and getpass.getpass("again: ") != first:
        _die(EXIT_BAD_INPUT, "the two passwords differ")
    return first or None


def cmd_admin_init(args: argparse.Namespace) -> int:
    """Create the first administrator of an empty installation (e.g. a new PostgreSQL database)."""
    from app.core.config import Settings
    from app.core.services import Platform

    platform = Platform.open(Settings.from_env())
    try:
        if platform.has_users():
            _die(EXIT_BAD_INPUT, "the platform already has accounts: the first administrator exists "
                                 "(add more with 'synthgen user add NAME --role admin')")
        info = platform.create_first_admin(args.name, _new_admin_password(args.name))
    finally:
        platform.close()
    print(f"created administrator {info.username}, id {info.id}", file=sys.stderr)
    if info.generated_password:
        print(f"generated password (shown once): {info.generated_password}")
    return 0


# -- registration ---------------------------------------------------------------------------
def _remote(parser: argparse.ArgumentParser, *, token: bool) -> None:
    parser.add_argument("--url", help=f"API base URL (default: SYNTHGEN_URL or {DEFAULT_URL})")
    if token:
        parser.add_argument("--token", help="API token (default: SYNTHGEN_TOKEN)")


def _user_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--username", help="your user name (default: SYNTHGEN_USERNAME); the password comes from "
                                           "SYNTHGEN_PASSWORD or a prompt")


def _positive_int(name: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} ({text!r}) must be a whole number") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"{name} ({value}) must be positive")
        return value

    return parse


def register(subparsers) -> None:
    """Add the platform subcommands to ``synthgen``'s sub-command parser."""
    from app.core.authz import ROLES

    # nested levels use synthgen's parser class too (one-line usage errors, exit code 2)
    kw = {"parser_class": getattr(subparsers, "_parser_class", argparse.ArgumentParser)}

    releases = subparsers.add_parser("releases", help="list and download approved releases (HTTP API)")
    rsub = releases.add_subparsers(dest="releases_command", required=True, **kw)
    p = rsub.add_parser("list", help="releases visible to you")
    p.add_argument("--dataset", help="only releases of this dataset")
    p.add_argument("--json", action="store_true", help="print JSON")
    _remote(p, token=True)
    p.set_defaults(handler=cmd_releases_list)
    p = rsub.add_parser("download", help="download a release's synthetic table and verify its SHA-256")
    p.add_argument("id", type=_positive_int("release id"))
    p.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    p.add_argument("-o", "--output", default=".", help="directory to write to (default: current)")
    _remote(p, token=True)
    p.set_defaults(handler=cmd_releases_download)

    token = subparsers.add_parser("token", help="create, list or revoke your API tokens (HTTP API)")
    tsub = token.add_subparsers(dest="token_command", required=True, **kw)
    p = tsub.add_parser("create", help="create an API token (printed once on stdout)")
    p.add_argument("--ttl-days", type=float, default=30.0, help="lifetime in days (default 30, at most 365)")
    _user_flag(p)
    _remote(p, token=False)
    p.set_defaults(handler=cmd_token_create)
    p = tsub.add_parser("list", help="your API tokens (admins: everyone's)")
    _user_flag(p)
    _remote(p, token=False)
    p.set_defaults(handler=cmd_token_list)
    p = tsub.add_parser("revoke", help="revoke an API token by id")
    p.add_argument("id", type=_positive_int("token id"))
    _user_flag(p)
    _remote(p, token=False)
    p.set_defaults(handler=cmd_token_revoke)

    user = subparsers.add_parser("user", help="manage accounts (admin; local database)")
    usub = user.add_subparsers(dest="user_command", required=True, **kw)
    p = usub.add_parser("add", help="create an account (password: SYNTHGEN_NEW_PASSWORD or generated)")
    p.add_argument("name")
    p.add_argument("--role", required=True, choices=ROLES)
    _user_flag(p)
    p.set_defaults(handler=cmd_user_add)
    p = usub.add_parser("disable", help="disable an account (its sessions and tokens stop working)")
    p.add_argument("name")
    _user_flag(p)
    p.set_defaults(handler=cmd_user_disable)
    p = usub.add_parser("role", help="change an account's role")
    p.add_argument("name")
    p.add_argument("role", choices=ROLES)
    _user_flag(p)
    p.set_defaults(handler=cmd_user_role)

    p = usub.add_parser("link-oidc", help="let an account sign in with an OpenID Connect identity (issuer + subject)")
    p.add_argument("name")
    p.add_argument("--issuer", required=True, help="the provider's issuer URL (the ID token's 'iss')")
    p.add_argument("--subject", required=True, help="the person's subject at the provider (the ID token's 'sub')")
    _user_flag(p)
    p.set_defaults(handler=cmd_user_link_oidc)
    p = usub.add_parser("unlink-oidc", help="remove an account's OpenID Connect identity")
    p.add_argument("name")
    _user_flag(p)
    p.set_defaults(handler=cmd_user_unlink_oidc)

    keys = subparsers.add_parser("keys", help="master key administration (admin; local)")
    ksub = keys.add_subparsers(dest="keys_command", required=True, **kw)
    p = ksub.add_parser("rotate", help="rewrap every data key under a new master key "
                                       "(with SYNTHGEN_MASTER_KEY: pass the new key in SYNTHGEN_NEW_MASTER_KEY)")
    _user_flag(p)
    p.set_defaults(handler=cmd_keys_rotate)

    audit = subparsers.add_parser("audit", help="audit log checks (admin; local)")
    asub = audit.add_subparsers(dest="audit_command", required=True, **kw)
    p = asub.add_parser("verify", help="verify the audit log's hash chain, signatures and head (no sign-in, "
                                       "writes nothing)")
    p.set_defaults(handler=cmd_audit_verify)

    admin = subparsers.add_parser("admin", help="installation set-up (local database)")
    adsub = admin.add_subparsers(dest="admin_command", required=True, **kw)
    p = adsub.add_parser("init", help="create the first administrator of an empty installation (password: "
                                      "SYNTHGEN_NEW_PASSWORD, a prompt, or generated and shown once)")
    p.add_argument("--username", dest="name", default="admin", help="the administrator's user name (default admin)")
    p.set_defaults(handler=cmd_admin_init)
