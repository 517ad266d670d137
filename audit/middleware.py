from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from audit.context import RequestContext, current_request


def client_ip(request: HttpRequest) -> str | None:
    """The client's address, as recorded in the audit trail and used by the login lockout.

    REMOTE_ADDR, unless ``TRUSTED_PROXY_COUNT`` proxies we run stand in front: then the address
    the outermost of them saw, i.e. the n-th entry from the right of X-Forwarded-For. Entries
    further left are written by the client and never trusted.
    """
    remote = request.META.get("REMOTE_ADDR") or None
    proxies = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0))
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies <= 0 or not forwarded:
        return remote
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    candidate = hops[-proxies] if len(hops) >= proxies else (hops[0] if hops else "")
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


class RequestContextMiddleware:
    """Give every request an id and remember its origin for the audit trail."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming[:64] if incoming and incoming.isprintable() else uuid.uuid4().hex
        token = current_request.set(
            RequestContext(
                ip_address=client_ip(request),
                user_agent=request.META.get("HTTP_USER_AGENT", "")[:400],
                request_id=request_id,
            )
        )
        try:
            response = self.get_response(request)
        finally:
            current_request.reset(token)
        response["X-Request-ID"] = request_id
        return response
