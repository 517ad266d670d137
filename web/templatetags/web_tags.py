"""The header and navigation: what each role may open (the same role sets as the views)."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from config.permissions import PHARMACY, READ_REGISTER, Role, primary_role, user_roles
from register import selectors
from web.prescribing import PRESCRIBER
from web.views import CONTROL

register = template.Library()

ROLE_LABELS: dict[str, Any] = {
    Role.PHARMACIST: _("Pharmacist"),
    Role.TECHNICIAN: _("Pharmacy technician"),
    Role.PRESCRIBER: _("Prescriber"),
    Role.INSPECTOR: _("Inspector"),
    Role.NURSE: _("Nurse"),
}

# (url name, label, roles that may open it)
NAVIGATION = [
    ("web:patients", _("Patients"), PRESCRIBER),
    ("web:prescriptions", _("Prescriptions"), PRESCRIBER),
    ("web:stock", _("Stock"), PHARMACY),
    ("web:waiting", _("To dispense"), PHARMACY),
    ("web:receipt", _("Receipt"), PHARMACY),
    ("web:transfer", _("Transfers"), PHARMACY),
    ("web:exit", _("Exit"), PHARMACY),
    ("web:register", _("Register"), READ_REGISTER),
    ("web:inspection", _("Inspection"), CONTROL),
    ("web:audit", _("Audit trail"), CONTROL),
    ("web:administration", _("Administration"), frozenset({Role.NURSE})),
]


@register.inclusion_tag("web/_nav.html", takes_context=True)
def navigation(context: Any) -> dict[str, Any]:
    request = context["request"]
    roles = user_roles(request.user)
    items = []
    for name, label, allowed in NAVIGATION:
        if roles & allowed:
            url = reverse(name)
            current = request.path == url or (url != "/" and request.path.startswith(url) and name != "web:stock")
            items.append({"url": url, "label": label, "current": current})
    return {"items": items}


@register.simple_tag
def role_label(user: Any) -> str:
    role = primary_role(user)
    return str(ROLE_LABELS.get(role, "")) if role else ""


@register.filter
def widget(field: Any) -> str:
    """The field's input, tied to its help text and error for screen readers (aria-describedby)."""
    described = []
    if field.help_text:
        described.append(f"{field.auto_id}_helptext")
    attrs: dict[str, str] = {}
    if field.errors:
        described.append(f"{field.auto_id}_error")
        attrs["aria-invalid"] = "true"
    if described:
        attrs["aria-describedby"] = " ".join(described)
    return field.as_widget(attrs=attrs)  # type: ignore[no-any-return]


@register.filter
def role_name(role: str) -> str:
    return str(ROLE_LABELS.get(role, role))


@register.simple_tag
def my_establishments(user: Any) -> Any:
    return selectors.establishments_for(user).order_by("code")
