"""Transfers between the pharmacy vault and a ward, and a nurse's administration from her ward:
forms over ``operations.services`` (the rules, the two paired register lines, the ward access)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from config.errors import DomainError
from config.permissions import PHARMACY, Role
from operations import selectors as op_selectors
from operations import services as op_services
from register.models import Location, Lot
from web.access import current_establishment, role_required
from web.forms import LotChoiceField, add_domain_error

TO_WARD, TO_VAULT = "to_ward", "to_vault"


class TransferForm(forms.Form):
    direction = forms.ChoiceField(
        label=_("Direction"),
        choices=[(TO_WARD, _("From the vault to a ward (refill)")), (TO_VAULT, _("From a ward back to the vault"))],
        widget=forms.RadioSelect,
        initial=TO_WARD,
    )
    ward = forms.ModelChoiceField(label=_("Ward"), queryset=Location.objects.none(), empty_label=_("— Choose —"))
    lot = LotChoiceField(label=_("Lot"), queryset=Lot.objects.none(), empty_label=_("— Choose —"))
    quantity = forms.IntegerField(label=_("Quantity (units)"), min_value=1, max_value=100000)
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, wards: Any, lots: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["ward"].queryset = wards  # type: ignore[attr-defined]
        self.fields["lot"].queryset = lots  # type: ignore[attr-defined]


@role_required(PHARMACY)
@require_http_methods(["GET", "POST"])
def transfer(request: HttpRequest) -> HttpResponse:
    """A refill of a ward's stock from the vault, or a return to it: two paired register lines."""
    establishment = current_establishment(request)
    wards = op_selectors.wards_for(request.user).filter(establishment=establishment).order_by("name")
    lots = Lot.objects.filter(establishment=establishment, quarantined_at__isnull=True).select_related("product")
    form = TransferForm(request.POST or None, wards=wards, lots=lots)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        vault = Location.objects.get(establishment=establishment, code="VAULT")
        source, destination = (vault, data["ward"]) if data["direction"] == TO_WARD else (data["ward"], vault)
        try:
            with transaction.atomic():
                out, into = op_services.transfer_create(
                    actor=request.user, lot=data["lot"], source=source, destination=destination,
                    quantity=data["quantity"], note=data["note"],
                )
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(
                request,
                gettext("Transfer recorded: %(quantity)s × %(lot)s from %(source)s to %(destination)s (lines %(out)s and %(into)s).")
                % {"quantity": out.quantity, "lot": out.lot.batch_number, "source": source.name,
                   "destination": destination.name, "out": out.number, "into": into.number},
            )
            return redirect("web:movement", pk=out.pk)
    return render(request, "web/transfer.html", {"establishment": establishment, "form": form})


class AdministrationForm(forms.Form):
    ward = forms.ModelChoiceField(label=_("Ward"), queryset=Location.objects.none(), empty_label=None)
    lot = LotChoiceField(label=_("Lot"), queryset=Lot.objects.none(), empty_label=_("— Choose —"))
    quantity = forms.IntegerField(label=_("Quantity (units)"), min_value=1, max_value=1000)
    patient_name = forms.CharField(label=_("Patient (name, first name)"), max_length=200)
    prescriber_name = forms.CharField(label=_("Prescriber"), max_length=200, required=False)
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, wards: Any, lots: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["ward"].queryset = wards  # type: ignore[attr-defined]
        self.fields["lot"].queryset = lots  # type: ignore[attr-defined]


NURSE_AND_PHARMACIST = frozenset({Role.NURSE, Role.PHARMACIST})


@role_required(NURSE_AND_PHARMACIST)
@require_http_methods(["GET", "POST"])
def administration(request: HttpRequest) -> HttpResponse:
    """An administration from the ward's stock (a nurse: only the wards she is assigned to)."""
    establishment = current_establishment(request)
    wards = op_selectors.wards_for(request.user).filter(establishment=establishment).order_by("name")
    lots = (
        Lot.objects.filter(establishment=establishment, balances__location__in=wards, balances__on_hand__gt=0)
        .select_related("product").distinct()
    )
    form = AdministrationForm(request.POST or None, wards=wards, lots=lots)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                movement = op_services.administration_record(
                    actor=request.user, lot=data["lot"], ward=data["ward"], quantity=data["quantity"],
                    patient_name=data["patient_name"], prescriber_name=data["prescriber_name"], note=data["note"],
                )
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(
                request,
                gettext("Administration recorded: %(quantity)s × %(lot)s, %(ward)s, register line no. %(number)s.")
                % {"quantity": movement.quantity, "lot": movement.lot.batch_number, "ward": data["ward"].name,
                   "number": movement.number},
            )
            return redirect("web:administration")
    stock = [(ward, op_selectors.ward_stock(ward)) for ward in wards]
    return render(request, "web/administration.html",
                  {"establishment": establishment, "form": form, "stock": stock, "has_wards": wards.exists()})
