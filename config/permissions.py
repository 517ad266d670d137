"""Roles (DOMAIN.md §5) and the one DRF permission class that reads what each view needs.

A view declares ``allowed_roles = {"GET": {...}, "POST": {...}}``; a method that is not listed
is refused. Role checks never appear in view bodies.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from rest_framework.permissions import BasePermission


class Role(StrEnum):
    PHARMACIST = "pharmacist"
    TECHNICIAN = "technician"
    PRESCRIBER = "prescriber"
    INSPECTOR = "inspector"
    NURSE = "nurse"


PHARMACY = frozenset({Role.PHARMACIST, Role.TECHNICIAN})
ALL_ROLES = frozenset(Role)
READ_REGISTER = frozenset({Role.PHARMACIST, Role.TECHNICIAN, Role.INSPECTOR})


def user_roles(user: Any) -> frozenset[str]:
    """The user's roles (group names), cached on the user object for the request."""
    if not getattr(user, "is_authenticated", False):
        return frozenset()
    cached = getattr(user, "_register_roles", None)
    if cached is None:
        names = {name for name in user.groups.values_list("name", flat=True)}
        cached = frozenset(name for name in names if name in {r.value for r in Role})
        user._register_roles = cached
    return cached


def has_role(user: Any, *roles: str) -> bool:
    return bool(user_roles(user) & set(roles))


def primary_role(user: Any) -> str:
    roles = user_roles(user)
    for role in Role:
        if role in roles:
            return role.value
    return ""


class RolePermission(BasePermission):
    """Allow a request when the user has one of the roles the view lists for the method."""

    message = "Your role does not allow this action."

    def has_permission(self, request: Any, view: Any) -> bool:
        allowed: dict[str, frozenset[str]] | None = getattr(view, "allowed_roles", None)
        if allowed is None:
            return False
        method = "GET" if request.method in ("HEAD", "OPTIONS") else request.method
        if method not in ("GET",) and not hasattr(view, method.lower()):
            # Not offered by this view (PUT/PATCH/DELETE on a register line): let DRF answer 405
            # for an authenticated caller, whatever the role.
            return bool(getattr(request.user, "is_authenticated", False))
        roles = allowed.get(method)
        if roles is None:
            return False
        if not roles:  # an empty set: open to anyone (the token endpoint)
            return True
        return bool(user_roles(request.user) & roles)
