"""Where a request came from, kept for the audit events written while serving it."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    ip_address: str | None = None
    user_agent: str = ""
    request_id: str = ""


current_request: ContextVar[RequestContext] = ContextVar("current_request", default=RequestContext())  # noqa: B039 (frozen, immutable)
