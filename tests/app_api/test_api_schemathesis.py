"""Property-based run of the OpenAPI schema (schemathesis) against the live API on localhost:
no generated request, valid or not, may produce a server error; answers must match the
documented status codes, content types, headers and schemas.

(schemathesis' lazy pytest loader, ``schemathesis.pytest.from_fixture``, does not work with
pytest 9, so each operation's strategy is driven with Hypothesis directly.)
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 25


@pytest.fixture(scope="session")
def operations(server):
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    ops = [result.ok() for result in schema.get_all_operations()]
    labels = {op.label for op in ops}
    assert {"GET /api/v1/releases", "GET /api/v1/releases/{release_id}/download", "POST /api/v1/tokens"} <= labels
    return ops


def _has_inputs(operation) -> bool:
    return bool(len(operation.path_parameters) or len(operation.query) or operation.body)


def _run(operation, mode: GenerationMode, headers: dict[str, str] | None, checks=None, max_examples=MAX_EXAMPLES):
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=max_examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def run(case):
        if checks is None:
            case.call_and_validate(headers=headers)
        else:
            case.validate_response(case.call(headers=headers), checks=checks)

    run()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["positive", "negative"])
def test_api_schema_no_server_error(operations, ml_token, mode):
    """With a valid ML-engineer token: all schemathesis checks for valid requests (no 5xx among
    them); for invalid requests, no server error. (Schemathesis' "negative data accepted" check
    cannot be used here: the token header we add overrides a case that drops Authorization to make
    the request invalid, so the request it calls invalid is in fact valid.)"""
    ran = 0
    checks = None if mode is GenerationMode.POSITIVE else [not_a_server_error]
    for operation in operations:
        try:
            _run(operation, mode, {"Authorization": f"Bearer {ml_token}"}, checks=checks)
            ran += 1
        except Unsatisfiable:  # nothing to make invalid (no parameters, e.g. GET /health)
            assert mode is GenerationMode.NEGATIVE and not _has_inputs(operation), operation.label
    assert ran >= 6


def test_api_schema_without_credentials_no_server_error(operations):
    """No credentials, or a garbage token: never a server error."""
    for operation in operations:
        _run(operation, GenerationMode.POSITIVE, None, checks=[not_a_server_error], max_examples=10)
        _run(operation, GenerationMode.POSITIVE, {"Authorization": "Bearer sgt_" + "x" * 43},
             checks=[not_a_server_error], max_examples=10)
