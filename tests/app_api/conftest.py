"""Fixtures of the HTTP API / CLI suite: one populated installation and its live API server
(``python -m app.api`` in a subprocess on a free localhost port), shared by the session."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("SYNTHGEN_FAST_HASH", "1")

from api_helpers import LiveServer, create_token, make_env, open_platform, populate  # noqa: E402


@pytest.fixture(scope="session")
def world(tmp_path_factory):
    return populate(make_env(tmp_path_factory.mktemp("api-world")))


@pytest.fixture(scope="session")
def server(world, tmp_path_factory):
    srv = LiveServer(world.env, tmp_path_factory.mktemp("api-log") / "server.log")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def ml_token(world) -> str:
    return create_token(world.env, "ml")


@pytest.fixture
def platform(world):
    """The installation's Platform, opened in the test process (e.g. to read the audit log)."""
    p = open_platform(world.env)
    try:
        yield p
    finally:
        p.close()
