"""The pharmacy's prescription pages: what waits to be dispensed, the dispensation screen with
the alerts computed before confirming, and the transfers between the vault and the wards.

The rules stay in ``prescriptions`` and ``operations``: the preview calls the same selector the
dispensation service calls (``hepatotoxic_check``, a read), and what remains dispensable is
asked of the service's own quantity check; confirming calls ``dispensation_create``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from config.errors import DomainError
from config.permissions import PHARMACY, Role, has_role
from prescriptions import selectors, services
from prescriptions.models import SecurePrescription
from register.models import Lot, Product
from web.access import current_establishment, role_required
from web.prescribing import exposure_chart_of
from web.prescribing_forms import (
    DISPENSATION_FIELDS,
    DISPENSATION_WORDINGS,
    DispensationForm,
    alerts_for_display,
    show_refusal,
)

HUGE = 10**6


@dataclass
class Remaining:
    """What may still be dispensed of one prescribed product, today."""

    product: Product
    prescribed_mg: Decimal
    dispensed_mg: Decimal
    units: int
    reason: str  # the rule that binds: prescription_exhausted, presentation_late or fraction_exceeded


def remaining(prescription: SecurePrescription, product: Product) -> Remaining:
    """Ask the dispensation service's own quantity check (R.5132-30, R.5132-33 incl. the 3-day
    rule, the fraction, what is left) for the largest quantity it accepts today: a read, no
    second copy of the rules. Each refusal names the most it would give under the rule that
    refused; a later rule may be stricter, so ask again with that figure."""
    quantity, reason = HUGE, "prescription_exhausted"
    probe = Lot(product=product)  # the check reads only the lot's product
    for _attempt in range(4):
        try:
            services.dispensation_quantity_check(prescription, probe, quantity, timezone.localdate())
            break
        except DomainError as error:
            reason = error.code
            quantity = int(error.extra.get("dispensable_quantity", 0))
            if quantity <= 0:
                break
    daily = sum((line.daily_mg for line in prescription.lines.all() if line.product_id == product.pk), Decimal(0))
    return Remaining(
        product=product,
        prescribed_mg=daily * prescription.duration_days,
        dispensed_mg=selectors.dispensed_mg(prescription, product_id=product.pk),
        units=max(quantity, 0),
        reason=reason,
    )


def remaining_of(prescription: SecurePrescription) -> list[Remaining]:
    products = {line.product_id: line.product for line in prescription.lines.all()}
    return [remaining(prescription, product) for product in products.values()]


@role_required(PHARMACY)
def waiting(request: HttpRequest) -> HttpResponse:
    """Prescriptions of the establishment still to dispense: issued, current, not exhausted."""
    establishment = current_establishment(request)
    current = selectors.prescriptions_for(request.user).filter(
        establishment=establishment, status=SecurePrescription.Status.ISSUED, ends_on__gte=timezone.localdate()
    ).order_by("issued_on", "pk")
    rows = []
    for prescription in current:
        left = remaining_of(prescription)
        if any(r.units > 0 for r in left):
            rows.append({"prescription": prescription, "remaining": left})
    return render(request, "web/waiting.html", {"establishment": establishment, "rows": rows})


def _lots_for(prescription: SecurePrescription) -> Any:
    """Lots of the prescribed products with units in the vault, usable today (first to expire first)."""
    products = {line.product_id for line in prescription.lines.all()}
    return (
        Lot.objects.filter(
            establishment=prescription.establishment,
            product_id__in=products,
            quarantined_at__isnull=True,
            expires_on__gte=timezone.localdate(),
            balances__location__code="VAULT",
            balances__on_hand__gt=0,
        )
        .select_related("product__substance")
        .order_by("expires_on", "batch_number")
        .distinct()
    )


@role_required(PHARMACY)
@require_http_methods(["GET", "POST"])
def dispense(request: HttpRequest, pk: int) -> HttpResponse:
    """The prescription, what remains, the exposure and the alerts of this dispensation before
    confirming (a POST with ``preview`` recomputes them for the typed lot and quantity); POST confirms."""
    prescription = get_object_or_404(selectors.prescriptions_for(request.user), pk=pk)
    can_override = has_role(request.user, Role.PHARMACIST)
    lots = _lots_for(prescription)
    left = remaining_of(prescription)
    confirming = request.method == "POST" and "preview" not in request.POST
    if confirming:
        form = DispensationForm(request.POST, lots=lots, can_override=can_override)
    else:
        # Unbound: the "recompute" button sends the lot and quantity to preview, nothing is checked yet.
        source = request.POST if request.method == "POST" else request.GET
        first = lots.first()
        suggested = min([r.units for r in left if first and r.product.pk == first.product_id] or [0])
        initial = {"lot": first.pk if first else None, "quantity": suggested or None}
        initial.update({name: source[name] for name in ("lot", "quantity", "bearer_name", "bearer_id",
                                                        "override_justification") if source.get(name)})
        form = DispensationForm(lots=lots, can_override=can_override, initial=initial)
    lot, quantity = _chosen(form, lots)
    # The preview: the same selector the service runs under its locks, without writing anything.
    dispensing_mg = lot.product.mg_per_unit * quantity * lot.product.substance.racemic_factor if lot else Decimal(0)
    check = selectors.hepatotoxic_check(prescription, dispensing_racemic_mg=dispensing_mg)
    if confirming and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                dispensation = services.dispensation_create(
                    actor=request.user,
                    prescription=prescription,
                    lot=data["lot"],
                    quantity=data["quantity"],
                    override_justification=data.get("override_justification", ""),
                    bearer_name=data["bearer_name"],
                    bearer_id=data["bearer_id"],
                )
        except DomainError as error:
            show_refusal(form, error, field_of_code=DISPENSATION_FIELDS, wordings=DISPENSATION_WORDINGS)
        else:
            movement = dispensation.movement
            messages.success(
                request,
                _("Dispensation recorded: %(quantity)s × %(lot)s, register line no. %(number)s.")
                % {"quantity": dispensation.quantity, "lot": dispensation.lot.batch_number, "number": movement.number},
            )
            return redirect("web:movement", pk=movement.pk)
    blocking = bool(check.blocking)
    return render(
        request,
        "web/dispense.html",
        {
            "establishment": prescription.establishment,
            "prescription": prescription,
            "remaining": left,
            "form": form,
            "alerts": alerts_for_display([alert.as_dict() for alert in check.alerts]),
            "blocking": blocking,
            "can_override": can_override,
            "chart": exposure_chart_of(check.timeline.daily_mg, width=480),  # a half-width column
            "dispensations": selectors.dispensations_of(prescription),
            "preview_lot": lot,
            "preview_quantity": quantity,
        },
    )


def _chosen(form: DispensationForm, lots: Any) -> tuple[Lot | None, int]:
    """The lot and quantity the alerts are computed for: what was typed, when it makes sense."""
    data: Any = form.data or form.initial
    try:
        lot = lots.filter(pk=int(data.get("lot") or 0)).first()
        quantity = max(int(data.get("quantity") or 0), 0)
    except (TypeError, ValueError):
        return None, 0
    return (lot, min(quantity, HUGE)) if lot else (None, 0)
