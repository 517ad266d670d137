"""Who may open which page, and which establishment a page acts on.

Access is declared once per view with ``@role_required(...)`` (the same role sets as the API in
``config.permissions``); view bodies never check roles. Every object is read through the
register's selectors, so another establishment's object answers 404 as in the API.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse

from config.permissions import user_roles
from register import selectors
from register.models import Establishment

SESSION_KEY = "web_establishment"

View = Callable[..., HttpResponse]


def role_required(roles: frozenset[str]) -> Callable[[View], View]:
    """Anonymous: redirect to the login page. Logged in without one of ``roles``: 403."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not user_roles(request.user) & roles:
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapper.allowed_roles = roles  # type: ignore[attr-defined]
        return login_required(wrapper)

    return decorator


def current_establishment(request: HttpRequest) -> Establishment:
    """The establishment the page shows: ``?establishment=CODE``, else the one chosen earlier
    in this session, else the user's first. A code that is not the user's answers 404."""
    mine = selectors.establishments_for(request.user).order_by("code")
    code = request.GET.get("establishment") or request.session.get(SESSION_KEY)
    if code:
        establishment = mine.filter(code=code).first()
        if establishment is None:
            if request.GET.get("establishment"):
                raise Http404
            establishment = mine.first()
    else:
        establishment = mine.first()
    if establishment is None:
        raise PermissionDenied
    request.session[SESSION_KEY] = establishment.code
    return establishment
