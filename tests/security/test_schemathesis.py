"""OpenAPI-driven fuzzing of /api/v1 with schemathesis: every operation of the published
document is called with generated (valid and invalid) input, as a signed-in clerk and as a
leader. Whatever comes in, the API answers with a documented status and JSON, never a 500,
and never a stack trace."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.conftest import letter_data

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def api_world(app, inst):
    from records.accounts import operations as accounts
    from records.cases import operations

    with inst.unit_of_work() as s:
        clerk = accounts.create_user(s, "fuzz-clerk", "test-password-123", ["clerk"], office="XFB")
        leader = accounts.create_user(s, "fuzz-leader", "test-password-123", ["leader"], oversees=["LDJC"])
        record = operations.register(s, letter_data(), by=clerk)
        tokens = {"clerk": accounts.issue_token(s, clerk),
                  "leader": accounts.issue_token(s, leader, second_factor_roles=())}  # as the test app
        serial = record.serial
    return tokens, serial


def _operations(app):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    for result in schema.get_all_operations():
        yield result.ok()


def test_every_operation_answers_sanely(app, api_world):
    tokens, serial = api_world
    operations = list(_operations(app))
    assert len(operations) >= 8, "the OpenAPI document lists the API's operations"
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=8, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck),
                  database=None)
        def check(case):
            if "serial" in (case.path_parameters or {}):
                case.path_parameters["serial"] = serial
            for role in ("clerk", "leader"):
                response = case.call(headers={"Authorization": f"Bearer {tokens[role]}"})
                assert response.status_code < 500, (case.method, case.path, response.status_code,
                                                     response.text[:300])
                assert "Traceback" not in response.text
                if response.status_code >= 400 and "json" in response.headers.get("Content-Type", ""):
                    body = response.json()
                    assert isinstance(body.get("error"), str) and body["error"]

        check()
