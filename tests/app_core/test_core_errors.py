"""One table of error kinds decides the HTTP status and the CLI exit code; an internal error
reaches an API client as a bare 500 with a correlation id that the server log holds."""

from __future__ import annotations

import logging
import warnings

import pytest

from app.api import create_app
from app.core.authz import PermissionDeniedError, SelfApprovalError
from app.core.crypto import DecryptionError, KeyConfigError
from app.core.releases import IllegalTransitionError
from app.core.services import ApprovalRefusedError, AuthenticationError, NotFoundError
from synthgen.errors import (
    ERROR_KINDS,
    BudgetExceededError,
    ErrorKind,
    InternalError,
    InvalidInputError,
    SchemaError,
    SynthgenError,
    kind_of,
    rule_for,
)

from core_helpers import PASSWORD, make_team

from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():  # starlette's TestClient prefers httpx2 to the pinned httpx
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

SECRET = "/srv/keys/master.key is group-readable"


@pytest.mark.parametrize("exc, kind", [
    (InvalidInputError("x"), ErrorKind.BAD_INPUT),
    (SchemaError("x"), ErrorKind.BAD_INPUT),
    (AuthenticationError("x"), ErrorKind.NOT_AUTHENTICATED),
    (PermissionDeniedError("x"), ErrorKind.NOT_AUTHORISED),
    (SelfApprovalError("x"), ErrorKind.NOT_AUTHORISED),
    (NotFoundError("x"), ErrorKind.NOT_FOUND),
    (IllegalTransitionError("x"), ErrorKind.CONFLICT),
    (ApprovalRefusedError("x"), ErrorKind.CONFLICT),
    (BudgetExceededError("1", "0", "1"), ErrorKind.BUDGET_EXCEEDED),
    (InternalError("x"), ErrorKind.INTERNAL),
    (KeyConfigError("x"), ErrorKind.INTERNAL),
    (DecryptionError("x"), ErrorKind.INTERNAL),
    (SynthgenError("unclassified"), ErrorKind.INTERNAL),
    (RuntimeError("not ours"), ErrorKind.INTERNAL),
])
def test_each_error_has_a_kind(exc, kind):
    assert kind_of(exc) is kind


def test_the_table_gives_every_kind_a_status_and_an_exit_code():
    assert set(ERROR_KINDS) == set(ErrorKind)
    assert {k: (r.http_status, r.exit_code) for k, r in ERROR_KINDS.items()} == {
        ErrorKind.BAD_INPUT: (400, 2), ErrorKind.NOT_AUTHENTICATED: (401, 3), ErrorKind.NOT_AUTHORISED: (403, 3),
        ErrorKind.NOT_FOUND: (404, 2), ErrorKind.CONFLICT: (409, 2), ErrorKind.BUDGET_EXCEEDED: (409, 2),
        ErrorKind.INTERNAL: (500, 1)}
    assert [k for k, r in ERROR_KINDS.items() if not r.shows_message] == [ErrorKind.INTERNAL]


@pytest.fixture
def api(platform):
    team = make_team(platform)
    token = platform.create_api_token(team.ml).token
    with TestClient(create_app(platform=platform), raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


@pytest.mark.parametrize("exc", [KeyConfigError(SECRET), InternalError(SECRET), SynthgenError(SECRET),
                                 RuntimeError(SECRET)])
def test_an_internal_error_reaches_the_client_as_500_without_detail(api, platform, monkeypatch, caplog, exc):
    def boom(*args, **kwargs):
        raise exc

    monkeypatch.setattr(platform, "list_releases", boom)
    with caplog.at_level(logging.ERROR, logger="app.api"):
        r = api.get("/api/v1/releases")
    assert r.status_code == 500
    error = r.json()["error"]
    assert error["code"] == "internal_error" and "master.key" not in r.text
    correlation_id = error["correlation_id"]
    assert correlation_id in error["message"]
    logged = [rec for rec in caplog.records if correlation_id in rec.getMessage()]
    assert len(logged) == 1 and logged[0].exc_info and SECRET in str(logged[0].exc_info[1])


@pytest.mark.parametrize("exc, status, code", [
    (InvalidInputError("epsilon (-1) must be positive"), 400, "bad_request"),
    (IllegalTransitionError("release 3 is 'draft'"), 409, "conflict"),
    (BudgetExceededError("ε 2", "ε 1", "ε 1"), 409, "budget_exceeded"),
])
def test_service_errors_get_the_status_of_their_kind(api, platform, monkeypatch, exc, status, code):
    def refuse(*args, **kwargs):
        raise exc

    monkeypatch.setattr(platform, "list_releases", refuse)
    r = api.get("/api/v1/releases")
    assert (r.status_code, r.json()["error"]) == (status, {"code": code, "message": str(exc)})
    assert rule_for(exc).http_status == status


def test_the_cli_exits_with_the_code_of_the_error_kind(platform, settings, monkeypatch, capsys):
    from app.cli import main

    make_team(platform)
    for k, v in settings.to_env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("SYNTHGEN_USERNAME", "admin")
    monkeypatch.setenv("SYNTHGEN_PASSWORD", PASSWORD)
    monkeypatch.setenv("SYNTHGEN_NEW_MASTER_KEY", "not a key")
    assert main(["keys", "rotate"]) == ERROR_KINDS[ErrorKind.INTERNAL].exit_code  # a key-configuration error
    capsys.readouterr()
    monkeypatch.setenv("SYNTHGEN_USERNAME", "ml")
    assert main(["keys", "rotate"]) == ERROR_KINDS[ErrorKind.NOT_AUTHORISED].exit_code
    assert capsys.readouterr().err.startswith("error: ")
