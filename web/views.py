"""Server-rendered pages. Thin views: access in decorators, reads through the register's
selectors (scoped to the caller's establishments), writes through its services."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from audit.reads import list_read_record
from audit.selectors import audit_events_for
from audit.services import audit_record
from config.errors import DomainError
from config.permissions import PHARMACY, READ_REGISTER, Role, has_role
from operations.services import direct_movement_record
from register import selectors, services
from register.models import Movement
from web import charts
from web.access import current_establishment, role_required
from web.forms import (
    AuditFilterForm,
    ExitForm,
    InspectionForm,
    ReceiptForm,
    RegisterFilterForm,
    ReverseForm,
    add_domain_error,
)

# The same role sets as the API (API.md): verification, exports and the audit trail are for
# the pharmacist in charge and the inspector.
CONTROL = frozenset({Role.PHARMACIST, Role.INSPECTOR})
EXPIRY_WARNING_DAYS = 90
PAGE_SIZE = 50
EXPORT_PATHS = {"pdf": "/api/v1/register/export.pdf", "csv": "/api/v1/register/export.csv"}


def home(request: HttpRequest) -> HttpResponse:
    """Each role lands on its main page; a role without pages here sees where it stands."""
    if not request.user.is_authenticated:
        return redirect(settings.LOGIN_URL)
    if has_role(request.user, *PHARMACY):
        return redirect("web:stock")
    if has_role(request.user, Role.INSPECTOR):
        return redirect("web:inspection")
    if has_role(request.user, Role.PRESCRIBER):
        return redirect("web:patients")
    if has_role(request.user, Role.NURSE):
        return redirect("web:administration")
    return render(request, "web/home.html")


@role_required(PHARMACY)
def stock(request: HttpRequest) -> HttpResponse:
    """Stock per product, lot and location, expiry warnings, each lot's balance over time."""
    establishment = current_establishment(request)
    include_empty = request.GET.get("empty") == "1"
    today = timezone.localdate()
    soon = today + dt.timedelta(days=EXPIRY_WARNING_DAYS)
    balances: dict[int, list[Any]] = {}
    for balance in selectors.stock_for(request.user).filter(location__establishment=establishment):
        balances.setdefault(balance.lot_id, []).append(balance)
    series = charts.lot_balance_series(
        selectors.movements_of(establishment).values_list("lot_id", "location_id", "balance_after", "occurred_at")
    )
    products: dict[Any, list[dict[str, Any]]] = {}
    warnings: dict[str, list[str]] = {"expired": [], "soon": []}
    for lot in selectors.lots_for(request.user).filter(establishment=establishment).order_by("product__name", "expires_on"):
        rows = [b for b in balances.get(lot.pk, []) if b.on_hand > 0 or include_empty]
        total = sum(b.on_hand for b in rows)
        if not total and not include_empty:
            continue
        status = "expired" if lot.expires_on < today else "soon" if lot.expires_on < soon else "ok"
        if status != "ok" and total:
            warnings[status].append(lot.batch_number)
        products.setdefault(lot.product, []).append(
            {
                "lot": lot,
                "balances": rows,
                "total": total,
                "status": status,
                "days_left": (lot.expires_on - today).days,
                "chart": charts.sparkline(series.get(lot.pk, [])),
            }
        )
    return render(
        request,
        "web/stock.html",
        {"establishment": establishment, "products": products, "warnings": warnings, "include_empty": include_empty},
    )


def _record(form: Any, write: Any) -> Movement | None:
    """Run a write service; a refusal is shown on the form and leaves nothing behind."""
    try:
        with transaction.atomic():
            return write()  # type: ignore[no-any-return]
    except DomainError as error:
        add_domain_error(form, error)
        return None


@role_required(PHARMACY)
@require_http_methods(["GET", "POST"])
def receipt(request: HttpRequest) -> HttpResponse:
    """A supplier receipt into the vault; a new lot is created in the same transaction."""
    establishment = current_establishment(request)
    form = ReceiptForm(request.POST or None, establishment=establishment)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data

        def write() -> Movement:
            lot = data["lot"] or services.lot_create(
                actor=request.user,
                establishment=establishment,
                product=data["product"],
                batch_number=data["batch_number"],
                expires_on=data["expires_on"],
            )
            return services.movement_record(
                actor=request.user,
                lot=lot,
                direction=Movement.Direction.ENTRY,
                reason=Movement.Reason.RECEIPT,
                quantity=data["quantity"],
                counterparty=data["counterparty"],
                occurred_at=data["occurred_at"],
                note=data["note"],
                late_entry_reason=data["late_entry_reason"],
            )

        movement = _record(form, write)
        if movement is not None:
            return _recorded(request, movement)
    return render(request, "web/movement_form.html", {"form": form, "kind": "receipt", "establishment": establishment})


@role_required(PHARMACY)
@require_http_methods(["GET", "POST"])
def exit_(request: HttpRequest) -> HttpResponse:
    """Theft, loss or return to the supplier (dispensations have their own screen)."""
    establishment = current_establishment(request)
    form = ExitForm(request.POST or None, establishment=establishment)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        movement = _record(
            form,
            lambda: direct_movement_record(
                actor=request.user,
                lot=data["lot"],
                location=data["location"],
                direction=Movement.Direction.EXIT,
                reason=data["reason"],
                quantity=data["quantity"],
                counterparty=data["counterparty"],
                occurred_at=data["occurred_at"],
                note=data["note"],
                late_entry_reason=data["late_entry_reason"],
            ),
        )
        if movement is not None:
            return _recorded(request, movement)
    return render(request, "web/movement_form.html", {"form": form, "kind": "exit", "establishment": establishment})


def _recorded(request: HttpRequest, movement: Movement) -> HttpResponse:
    messages.success(
        request,
        _("Line no. %(number)s recorded: %(quantity)s × %(lot)s, balance %(balance)s.")
        % {"number": movement.number, "quantity": movement.quantity, "lot": movement.lot, "balance": movement.balance_after},
    )
    return redirect("web:movement", pk=movement.pk)


@role_required(READ_REGISTER)
def register(request: HttpRequest) -> HttpResponse:
    """The register lines of one establishment, filtered, in order-number order, paginated."""
    establishment = current_establishment(request)
    form = RegisterFilterForm(request.GET or None, establishment=establishment)
    lines = selectors.movements_of(establishment)
    if form.is_valid():
        data = form.cleaned_data
        lines = selectors.movements_of(
            establishment, date_from=data.get("from"), date_to=data.get("to"), product=data.get("product")
        )
        if data.get("lot"):
            lines = lines.filter(lot=data["lot"])
        if data.get("location"):
            lines = lines.filter(location=data["location"])
    lines = lines.select_related("lot__product", "location", "reverses")
    page = Paginator(lines, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    exports = None
    if has_role(request.user, *CONTROL):
        data = form.cleaned_data if form.is_valid() else {}
        exports = export_links(
            {
                "establishment": establishment.code,
                "from": data["from"].isoformat() if data.get("from") else "",
                "to": data["to"].isoformat() if data.get("to") else "",
                "product": str(data["product"].pk) if data.get("product") else "",
            }
        )
    # Register lines carry patient names: who looked at which lines is an audit event (issue 5).
    list_read_record(actor=request.user, action="register.movements.viewed", objects=page.object_list,
                     query={"via": "web", **request.GET.dict()})
    return render(
        request,
        "web/register.html",
        {"establishment": establishment, "form": form, "page": page, "query": query.urlencode(), "exports": exports},
    )


@role_required(READ_REGISTER)
def movement(request: HttpRequest, pk: int) -> HttpResponse:
    """One register line with its hash and the hash it chains to."""
    line = get_object_or_404(selectors.movements_for(request.user).select_related("paired_with", "recorded_by"), pk=pk)
    audit_record(action="register.movement.viewed", actor=request.user, establishment=line.establishment, obj=line)
    return _movement_page(request, line, ReverseForm())


def _movement_page(request: HttpRequest, line: Movement, form: ReverseForm) -> HttpResponse:
    reversed_by = Movement.objects.filter(reverses=line).first()
    can_reverse = (
        has_role(request.user, Role.PHARMACIST) and reversed_by is None and line.reason != Movement.Reason.REVERSAL
    )
    return render(
        request,
        "web/movement.html",
        {
            "line": line,
            "reversed_by": reversed_by,
            "establishment": line.establishment,
            # A refused correction keeps its form on the page so the reason for the refusal shows.
            "reverse_form": form if can_reverse or form.errors else None,
        },
    )


@role_required(frozenset({Role.PHARMACIST}))
@require_http_methods(["POST"])
def movement_reverse(request: HttpRequest, pk: int) -> HttpResponse:
    """Correct a line by writing its opposite (pharmacist only, as in the API)."""
    line = get_object_or_404(selectors.movements_for(request.user).select_related("paired_with", "recorded_by"), pk=pk)
    form = ReverseForm(request.POST)
    if form.is_valid():
        reversal = _record(
            form, lambda: services.movement_reverse(actor=request.user, movement=line, reason=form.cleaned_data["reason"])
        )
        if reversal is not None:
            return _recorded(request, reversal)
    return _movement_page(request, line, form)


def export_links(params: dict[str, Any]) -> dict[str, str]:
    """The export URLs (API.md) with the page's filters: ``establishment``, ``from``, ``to``, ``product``."""
    query = {name: params[name] for name in ("establishment", "from", "to", "product") if params.get(name)}
    return {kind: f"{path}?{urlencode(query)}" for kind, path in EXPORT_PATHS.items()}


@role_required(CONTROL)
@require_http_methods(["GET", "POST"])
def inspection(request: HttpRequest) -> HttpResponse:
    """Choose establishment and period; see the register, verify the chain, download the exports."""
    establishment = current_establishment(request)
    source = request.POST if request.method == "POST" else request.GET
    form = InspectionForm(source or {"establishment": establishment.code}, user=request.user)
    context: dict[str, Any] = {"form": form, "establishment": establishment}
    if form.is_valid():
        data = form.cleaned_data
        establishment = data["establishment"]
        request.session["web_establishment"] = establishment.code
        params = {
            "establishment": establishment.code,
            "from": data["from"].isoformat() if data.get("from") else "",
            "to": data["to"].isoformat() if data.get("to") else "",
            "product": str(data["product"].pk) if data.get("product") else "",
        }
        lines = selectors.movements_of(
            establishment, date_from=data.get("from"), date_to=data.get("to"), product=data.get("product")
        )
        context.update(
            establishment=establishment,
            exports=export_links(params),
            register_query=urlencode({k: v for k, v in params.items() if v}),
            line_count=lines.count(),
            recent=lines.select_related("lot__product", "location").reverse()[:10],
        )
        if request.method == "POST":
            result = selectors.register_verify(establishment)
            # Who verified which register, and what they found, belongs in the audit trail (as in the API).
            audit_record(
                action="register.verified",
                actor=request.user,
                establishment=establishment,
                obj=None,
                data={"ok": result.ok, "lines": result.lines, "first_broken": result.first_broken},
            )
            broken = None
            if result.first_broken is not None:
                broken = selectors.movements_of(establishment).filter(number=result.first_broken).first()
            context.update(result=result, broken=broken, verified_at=timezone.now())
    return render(request, "web/inspection.html", context)


@role_required(CONTROL)
def audit(request: HttpRequest) -> HttpResponse:
    """The audit trail of the establishments the user belongs to, filtered by action."""
    establishment = current_establishment(request)
    # The establishment's events and its members' logins, logouts and failed logins, as the API.
    events = audit_events_for(request.user, establishment)
    form = AuditFilterForm(request.GET or None, events=events)
    if form.is_valid() and form.cleaned_data.get("action"):
        events = events.filter(action=form.cleaned_data["action"])
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request, "web/audit.html", {"establishment": establishment, "form": form, "page": page, "query": query.urlencode()}
    )

