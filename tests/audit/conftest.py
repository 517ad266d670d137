from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fresh_throttle_counters(request: Any) -> None:
    # The login throttle counts in the shared (database) cache: start every test that can reach
    # the database from zero (a transactional test's flush does not empty the cache table).
    for database in ("transactional_db", "db"):
        if database in request.fixturenames:
            request.getfixturevalue(database)
            cache.clear()
            return


@pytest.fixture
def login(client: Any) -> Any:
    """``login(username, password, **extra)`` -> the token endpoint's response."""

    def post(username: str, password: str, **extra: Any) -> Any:
        return client.post(
            "/api/v1/auth/token/", {"username": username, "password": password}, content_type="application/json", **extra
        )

    return post
