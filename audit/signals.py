"""Every login is an audit event (DOMAIN.md §5): token logins, web logins, admin logins, logouts.

Django sends ``user_login_failed`` from ``authenticate()`` whatever the entry point, so failures
are recorded here and only here (the token view does not record them again). Successful web
logins go through ``django.contrib.auth.login()``, which sends ``user_logged_in``; the token
endpoint does not call it and records its own success.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, User
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import m2m_changed
from django.dispatch import receiver

from audit.lockout import LOGIN_FAILED, LOGIN_LOCKED, LOGIN_SUCCEEDED, login_lockout_remaining, request_ip
from audit.services import audit_record
from register.models import Establishment


def login_channel(request: Any) -> str:
    if request is None:
        # authenticate() called without a request: a witness's password typed into a workflow
        # (destruction). It still counts towards that account's lockout (IP unknown).
        return "internal"
    path = getattr(request, "path", "") or ""
    if path.startswith("/api/"):
        return "token"
    if path.startswith("/admin/"):
        return "admin"
    return "session"


@receiver(user_login_failed, dispatch_uid="audit-login-failed")
def audit_login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    username = str(credentials.get("username") or "")[:150]
    remaining = login_lockout_remaining(username=username, ip_address=request_ip(request))
    # A refused attempt while locked is its own action, so that it does not extend the lockout.
    audit_record(
        action=LOGIN_LOCKED if remaining else LOGIN_FAILED,
        actor_username=username,
        data={"via": login_channel(request), **({"retry_after": remaining} if remaining else {})},
    )


@receiver(user_logged_in, dispatch_uid="audit-logged-in")
def audit_logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    audit_record(action=LOGIN_SUCCEEDED, actor=user, data={"via": login_channel(request)})


@receiver(user_logged_out, dispatch_uid="audit-logged-out")
def audit_logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        audit_record(action="auth.logout", actor=user, data={"via": login_channel(request)})


def _request_user() -> Any:
    """Who is making the change, when it happens while serving a request (admin, API)."""
    from simple_history.models import HistoricalRecords

    request = getattr(HistoricalRecords.context, "request", None)
    user = getattr(request, "user", None)
    return user if getattr(user, "is_authenticated", False) else None


@receiver(m2m_changed, sender=User.groups.through, dispatch_uid="audit-roles-changed")
def audit_roles_changed(sender: Any, instance: Any, action: str, reverse: bool, model: Any, pk_set: Any, **kwargs: Any) -> None:
    """A role given or taken away: one event per person changed (``auth.user.roles_changed``)."""
    if action == "pre_clear":
        # The ids are gone after the clear: remember them now.
        instance._audit_cleared = set(
            instance.user_set.values_list("pk", flat=True) if reverse else instance.groups.values_list("pk", flat=True)
        )
        return
    if action == "post_clear":
        action, pk_set = "post_remove", getattr(instance, "_audit_cleared", set())
    if action not in ("post_add", "post_remove") or not pk_set:
        return
    key = "added" if action == "post_add" else "removed"
    if reverse:  # group.user_set.add(users...)
        pairs = [(user, [instance.name]) for user in User.objects.filter(pk__in=pk_set)]
    else:  # user.groups.add(groups...)
        pairs = [(instance, sorted(Group.objects.filter(pk__in=pk_set).values_list("name", flat=True)))]
    actor = _request_user()
    for user, roles in pairs:
        establishments: list[Establishment | None] = [*user.establishments.all()] or [None]
        for establishment in establishments:
            audit_record(
                action="auth.user.roles_changed", actor=actor, actor_username="" if actor else "system",
                establishment=establishment, obj=user, data={"user": user.get_username(), key: roles},
            )


@receiver(m2m_changed, sender=Establishment.members.through, dispatch_uid="audit-members-changed")
def audit_members_changed(sender: Any, instance: Any, action: str, reverse: bool, model: Any, pk_set: Any, **kwargs: Any) -> None:
    """Someone joins or leaves an establishment (``register.establishment.members_changed``)."""
    if action == "pre_clear":
        instance._audit_cleared = set(
            instance.establishments.values_list("pk", flat=True) if reverse else instance.members.values_list("pk", flat=True)
        )
        return
    if action == "post_clear":
        action, pk_set = "post_remove", getattr(instance, "_audit_cleared", set())
    if action not in ("post_add", "post_remove") or not pk_set:
        return
    key = "added" if action == "post_add" else "removed"
    if reverse:  # user.establishments.add(establishments...)
        pairs = [(establishment, [instance.get_username()]) for establishment in Establishment.objects.filter(pk__in=pk_set)]
    else:  # establishment.members.add(users...)
        pairs = [(instance, sorted(User.objects.filter(pk__in=pk_set).values_list("username", flat=True)))]
    actor = _request_user()
    for establishment, usernames in pairs:
        audit_record(
            action="register.establishment.members_changed", actor=actor, actor_username="" if actor else "system",
            establishment=establishment, obj=establishment, data={key: usernames},
        )
