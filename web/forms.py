"""Forms of the web pages: they check the shape of what a person typed; the register's services
check the rules (a refusal comes back as a ``DomainError`` shown next to the field it concerns)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from config.errors import DomainError
from register import selectors, services
from register.models import Establishment, Location, Lot, Movement, Product

# A service refusal without ``fields`` still concerns one input: show it there.
FIELD_OF_CODE = {
    "insufficient_stock": "quantity",
    "lot_expired": "lot",
    "lot_quarantined": "lot",
    "lot_exists": "batch_number",
    "not_narcotic_on_date": "occurred_at",
    "occurred_in_future": "occurred_at",
    "late_entry_reason_required": "late_entry_reason",
    "location_mismatch": "location",
}

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


def _messages() -> dict[str, Any]:
    """The services' refusals in the interface's language, by stable code (the rule stays in the
    service; only its wording is the page's). An unknown code shows the service's own text."""
    return {
        "insufficient_stock": lambda form, error: (
            _("Only %(on_hand)s unit(s) of this lot at this location: you cannot take out %(quantity)s.")
            % {"on_hand": error.extra.get("on_hand", 0), "quantity": form.cleaned_data["quantity"]}
            if form.cleaned_data.get("quantity")
            else _("Not enough units of this lot at this location: only %(on_hand)s left.")
            % {"on_hand": error.extra.get("on_hand", 0)}
        ),
        "lot_expired": lambda form, error: _("This lot has expired: an expired lot cannot be received."),
        "lot_quarantined": lambda form, error: _("This lot is in quarantine: its only possible exit is destruction."),
        "lot_exists": lambda form, error: _(
            "This batch number already exists for this product: choose the lot in the list above."
        ),
        "not_narcotic_on_date": lambda form, error: _(
            "The substance was not listed as a narcotic on that date: this register does not record it."
        ),
        "occurred_in_future": lambda form, error: _(
            "An operation cannot be dated in the future: the register records what has happened."
        ),
        "already_reversed": lambda form, error: _("This line has already been reversed."),
        "reversal_of_reversal": lambda form, error: _("This line is itself a reversal: it cannot be reversed."),
        "late_entry_reason_required": lambda form, error: _(
            "This operation is dated more than 24 hours ago: give the reason for the late entry."
        ),
    }


def add_domain_error(form: forms.Form, error: DomainError) -> None:
    """Put a service's refusal next to the field it concerns, else at the top of the form."""
    named = [name for name in (error.fields or {}) if name in form.fields]
    field: str | None = named[0] if named else FIELD_OF_CODE.get(error.code)
    # A receipt on a new lot: "the lot" is what the person typed in the new-lot fields.
    if field == "lot" and not form.cleaned_data.get("lot") and "expires_on" in form.fields:
        field = "expires_on"
    if field not in form.fields:
        field = None
    wording = _messages().get(error.code)
    form.add_error(field, wording(form, error) if wording else error.detail)


class LotChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return _("%(product)s — lot %(batch)s (expires %(date)s)") % {
            "product": obj.product.name,
            "batch": obj.batch_number,
            "date": date_format(obj.expires_on, "SHORT_DATE_FORMAT"),
        }


class _MovementForm(forms.Form):
    quantity = forms.IntegerField(label=_("Quantity (units)"), min_value=1, max_value=100000)
    occurred_at = forms.DateTimeField(
        label=_("Date and time of the operation"),
        required=False,
        widget=DATETIME,
        help_text=_("Leave empty: the current time is used."),
    )
    late_entry_reason = forms.CharField(
        label=_("Reason for a late entry"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, establishment: Establishment, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.establishment = establishment


class ReceiptForm(_MovementForm):
    """A supplier receipt into the pharmacy vault, on an existing lot or a new one."""

    lot = LotChoiceField(
        label=_("Lot already in the register"),
        queryset=Lot.objects.none(),
        required=False,
        empty_label=_("— New lot (fill in below) —"),
    )
    product = forms.ModelChoiceField(
        label=_("Product"), queryset=Product.objects.none(), required=False, empty_label=_("— Choose —")
    )
    batch_number = forms.CharField(label=_("Batch number"), max_length=64, required=False)
    expires_on = forms.DateField(label=_("Expiry date"), required=False, widget=DATE)
    counterparty = forms.CharField(
        label=_("Supplier (name and address)"), max_length=500, required=False,
    )
    field_order = ["lot", "product", "batch_number", "expires_on", "quantity", "counterparty", "occurred_at",
                   "late_entry_reason", "note"]

    def __init__(self, *args: Any, establishment: Establishment, **kwargs: Any) -> None:
        super().__init__(*args, establishment=establishment, **kwargs)
        self.fields["lot"].queryset = (  # type: ignore[attr-defined]
            Lot.objects.filter(establishment=establishment, quarantined_at__isnull=True).select_related("product")
        )
        self.fields["product"].queryset = selectors.products_list()  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("lot"):
            for name in ("product", "batch_number", "expires_on"):
                if not data.get(name) and name not in self.errors:
                    self.add_error(name, _("Required for a new lot (or choose an existing lot above)."))
        return data


class ExitForm(_MovementForm):
    """An exit that is not a dispensation: theft, loss, return to the supplier."""

    REASONS = [
        (value, label)
        for value, label in Movement.Reason.choices
        if value in services.DIRECT_REASONS[Movement.Direction.EXIT]
    ]

    lot = LotChoiceField(label=_("Lot"), queryset=Lot.objects.none(), empty_label=_("— Choose —"))
    location = forms.ModelChoiceField(label=_("Location"), queryset=Location.objects.none(), empty_label=None)
    # No reason preselected: a theft must never be recorded by leaving a default in place.
    reason = forms.ChoiceField(label=_("Reason"), choices=[("", _("— Choose —")), *REASONS])
    counterparty = forms.CharField(
        label=_("Counterparty (supplier, police report, ward...)"), max_length=500, required=False
    )
    field_order = ["reason", "lot", "location", "quantity", "counterparty", "occurred_at", "late_entry_reason", "note"]

    def __init__(self, *args: Any, establishment: Establishment, **kwargs: Any) -> None:
        super().__init__(*args, establishment=establishment, **kwargs)
        self.fields["lot"].queryset = (  # type: ignore[attr-defined]
            Lot.objects.filter(establishment=establishment).select_related("product")
        )
        locations = Location.objects.filter(establishment=establishment)
        self.fields["location"].queryset = locations  # type: ignore[attr-defined]
        self.fields["location"].initial = locations.filter(code="VAULT").first()


class ReverseForm(forms.Form):
    """A correction: the opposite line, pointing at the one it cancels (R.5132-36: no change after validation)."""

    reason = forms.CharField(
        label=_("Reason for the correction"), max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )


class RegisterFilterForm(forms.Form):
    """Filters of the register list; ``from`` and ``to`` are the API's parameter names."""

    product = forms.ModelChoiceField(
        label=_("Product"), queryset=Product.objects.none(), required=False, empty_label=_("All")
    )
    lot = LotChoiceField(label=_("Lot"), queryset=Lot.objects.none(), required=False, empty_label=_("All"))
    location = forms.ModelChoiceField(
        label=_("Location"), queryset=Location.objects.none(), required=False, to_field_name="code", empty_label=_("All")
    )

    def __init__(self, *args: Any, establishment: Establishment, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["product"].queryset = selectors.products_list()  # type: ignore[attr-defined]
        self.fields["lot"].queryset = Lot.objects.filter(establishment=establishment).select_related("product")  # type: ignore[attr-defined]
        self.fields["location"].queryset = Location.objects.filter(establishment=establishment)  # type: ignore[attr-defined]
        # Python keywords cannot be class attributes: add the date fields by name.
        self.fields["from"] = forms.DateField(label=_("From"), required=False, widget=DATE)
        self.fields["to"] = forms.DateField(label=_("To"), required=False, widget=DATE)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("from") and data.get("to") and data["from"] > data["to"]:
            self.add_error("to", _("The end date is before the start date."))
        return data


class InspectionForm(forms.Form):
    """Which establishment and period an inspector looks at."""

    establishment = forms.ModelChoiceField(
        label=_("Establishment"), queryset=Establishment.objects.none(), to_field_name="code", empty_label=None
    )
    product = forms.ModelChoiceField(
        label=_("Product"), queryset=Product.objects.none(), required=False, empty_label=_("All products")
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["establishment"].queryset = selectors.establishments_for(user).order_by("code")  # type: ignore[attr-defined]
        self.fields["product"].queryset = selectors.products_list()  # type: ignore[attr-defined]
        self.fields["from"] = forms.DateField(label=_("From"), required=False, widget=DATE)
        self.fields["to"] = forms.DateField(label=_("To"), required=False, widget=DATE)
        self.order_fields(["establishment", "from", "to", "product"])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("from") and data.get("to") and data["from"] > data["to"]:
            self.add_error("to", _("The end date is before the start date."))
        return data


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(label=_("Action"), required=False, widget=forms.Select(attrs={"data-autosubmit": ""}))

    def __init__(self, *args: Any, events: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        actions = events.order_by("action").values_list("action", flat=True).distinct()
        self.fields["action"].choices = [("", _("All actions")), *[(a, a) for a in actions]]  # type: ignore[attr-defined]

