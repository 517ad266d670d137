from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fresh_throttle_counters() -> None:
    # The login throttle counts in the process-wide cache: start every test from zero.
    cache.clear()


@pytest.fixture
def login(client: Any) -> Any:
    """``login(username, password, **extra)`` -> the token endpoint's response."""

    def post(username: str, password: str, **extra: Any) -> Any:
        return client.post(
            "/api/v1/auth/token/", {"username": username, "password": password}, content_type="application/json", **extra
        )

    return post
