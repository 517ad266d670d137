"""Hostile input, generated from the OpenAPI schema: no 5xx, every 4xx in the API.md error format."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode

from config.wsgi import application

# Bounded so that `make test` stays fast on 2 cores; raise it for a longer hunt.
MAX_EXAMPLES = int(os.environ.get("RELIABILITY_MAX_EXAMPLES", "3"))
ROLES = ["pharmacist", "technician", "prescriber", "inspector", "nurse", "outsider", None]
# The schema and the docs page describe the API; they take no input worth fuzzing.
SKIPPED_PATHS = {"/api/v1/schema/", "/api/v1/docs/"}


def _schema() -> Any:
    return schemathesis.openapi.from_wsgi("/api/v1/schema/", application)


def _operations() -> list[Any]:
    return [
        result.ok()
        for result in _schema().get_all_operations()
        if result.ok().path not in SKIPPED_PATHS
    ]


@pytest.fixture
def wsgi_in_test_transaction(db: Any) -> Iterator[None]:
    """Serve the WSGI app inside the test's transaction, as Django's own test client does.

    The real handler closes "old" connections at each request's start and end; inside a test
    transaction that would close the test's connection, so (like ``django.test.Client``) the
    signal is disconnected for the test.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _check(response: Any, case: Any) -> None:
    where = f"{case.method} {case.formatted_path} -> {response.status_code}"
    assert response.status_code < 500, f"{where}: {case.as_curl_command()} -> {response.text[:500]}"
    if 400 <= response.status_code < 500:
        # schemathesis gives headers with lowercase keys and list values.
        assert response.headers.get("content-type", [""])[0].startswith("application/json"), (
            f"{where}: not JSON: {case.as_curl_command(headers=dict(case.headers or {}))} -> {response.text[:300]}"
        )
        body = response.json()
        assert isinstance(body, dict), f"{where}: {body!r}"
        assert isinstance(body.get("code"), str) and body["code"], f"{where}: no code in {body!r}"
        assert isinstance(body.get("detail"), str), f"{where}: no detail in {body!r}"
        if "fields" in body:
            assert isinstance(body["fields"], dict), f"{where}: fields is not an object in {body!r}"


@pytest.mark.parametrize("role", ROLES, ids=lambda role: role or "anonymous")
def test_generated_requests_never_get_a_5xx_and_4xx_keep_the_error_format(wsgi_in_test_transaction, demo, role):
    """Schema-driven requests (valid and invalid) with each role's token: no 5xx, 4xx as {code, detail}."""
    headers = {}
    if role is not None:
        token, _ = Token.objects.get_or_create(user__username=role, defaults={"user_id": _user_id(role)})
        headers["Authorization"] = f"Token {token.key}"
    operations = _operations()
    assert len(operations) >= 8
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _run(operation, mode, headers)


def _user_id(username: str) -> int:
    from django.contrib.auth import get_user_model

    return int(get_user_model().objects.get(username=username).pk)


def _run(operation: Any, mode: GenerationMode, headers: dict[str, str]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        _check(case.call(headers=headers), case)

    try:
        check()
    except Unsatisfiable:
        # An operation with no input (GET /products/) has no invalid variant to generate.
        if mode is not GenerationMode.NEGATIVE:
            raise
