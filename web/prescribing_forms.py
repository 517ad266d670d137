"""Forms of the prescriber's and the pharmacy's prescription pages. They check the shape of what
was typed; ``prescriptions.services`` checks the rules and its refusals are shown here, next to
the field they concern (by the ``fields`` of the error or its stable code), else above the form."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config.errors import DomainError
from prescriptions.models import PrescriptionLine
from register import selectors as register_selectors
from register.models import Lot
from web.forms import DATE, LotChoiceField

Wording = Callable[[DomainError], Any]


def show_refusal(
    form: forms.Form, error: DomainError, *, field_of_code: dict[str, str], wordings: dict[str, Wording]
) -> None:
    """Put a service's refusal next to its field (``error.fields`` first, then its code), else on top."""
    fields = error.fields if isinstance(error.fields, dict) else {}
    named = [name for name in fields if name in form.fields]
    field: str | None = named[0] if named else field_of_code.get(error.code)
    if field not in form.fields:
        field = None
    # A refusal may read differently next to its field than above the form ("code:field").
    wording = wordings.get(f"{error.code}:{field}") or wordings.get(error.code)
    form.add_error(field, wording(error) if wording else error.detail)


class PatientSearchForm(forms.Form):
    q = forms.CharField(label=_("Patient's name"), required=False, max_length=100)


class PatientForm(forms.Form):
    last_name = forms.CharField(label=_("Last name"), max_length=100)
    first_name = forms.CharField(label=_("First name"), max_length=100)
    sex = forms.ChoiceField(
        label=_("Sex"), choices=[("F", _("Female")), ("M", _("Male"))], widget=forms.RadioSelect
    )
    birth_date = forms.DateField(label=_("Date of birth"), widget=DATE)
    address = forms.CharField(label=_("Address"), widget=forms.Textarea(attrs={"rows": 2}))
    weight_kg = forms.DecimalField(
        label=_("Weight (kg)"), required=False, min_value=0.1, max_value=500, decimal_places=1
    )
    hepatic_impairment = forms.BooleanField(label=_("Known hepatic impairment"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["hepatic_impairment"].help_text = _(
            "If ticked, any day above %(mg)s mg/day blocks the dispensation until a pharmacist decides (ANSM 2017)."
        ) % {"mg": settings.KETAMINE_RULES["HIGH_DAILY_DOSE_MG"]}


class PrescriptionForm(forms.Form):
    secure_form_lot = forms.CharField(
        label=_("Secure form lot number"), max_length=64,
        help_text=_("The lot identifier pre-printed on the secure prescription form."),
    )
    declared_lines = forms.IntegerField(
        label=_("Number of lines declared"), min_value=1, max_value=20,
        help_text=_("The number written in the box at the bottom of the form (R.5132-5)."),
    )
    issued_on = forms.DateField(label=_("Date of the prescription"), widget=DATE)
    duration_days = forms.IntegerField(label=_("Duration (days)"), min_value=1, max_value=366)
    fraction_days = forms.IntegerField(
        label=_("Split dispensing every (days)"), min_value=1, max_value=366, required=False,
        help_text=_("Optional: each dispensation then covers at most this many days."),
    )
    overlap_authorized = forms.BooleanField(
        label=_("Overlap with a current prescription expressly authorised"), required=False,
        help_text=_("Write it on the form too: « chevauchement autorisé » (R.5132-33)."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        max_days = int(settings.KETAMINE_RULES["MAX_PRESCRIPTION_DAYS"])
        # The browser checks as the person types; the service checks again on submit.
        self.fields["duration_days"].widget.attrs.update({"data-max-days": str(max_days)})
        self.fields["duration_days"].help_text = _("At most %(days)s days for ketamine (R.5132-30).") % {"days": max_days}
        self.fields["declared_lines"].widget.attrs.update({"data-declared-lines": ""})
        self.fields["issued_on"].initial = timezone.localdate()


class LineForm(forms.Form):
    product = forms.ModelChoiceField(label=_("Product"), queryset=register_selectors.products_list(),
                                     empty_label=_("— Choose —"))
    kind = forms.ChoiceField(label=_("Kind"), choices=[
        (PrescriptionLine.Kind.BOLUS, _("Bolus (injection)")), (PrescriptionLine.Kind.INFUSION, _("Infusion")),
    ], widget=forms.Select(attrs={"data-line-kind": ""}))
    dose_mg = forms.DecimalField(label=_("Dose (mg)"), required=False, min_value=0, max_digits=8, decimal_places=2,
                                 widget=forms.NumberInput(attrs={"data-kind": "bolus", "step": "any"}))
    doses_per_day = forms.IntegerField(label=_("Times per day"), required=False, min_value=0, max_value=48,
                                       widget=forms.NumberInput(attrs={"data-kind": "bolus"}))
    rate_mg_per_h = forms.DecimalField(label=_("Rate (mg/h)"), required=False, min_value=0, max_digits=8,
                                       decimal_places=2,
                                       widget=forms.NumberInput(attrs={"data-kind": "infusion", "step": "any"}))
    hours_per_day = forms.DecimalField(label=_("Hours per day"), required=False, min_value=0, max_value=24,
                                       max_digits=4, decimal_places=2,
                                       widget=forms.NumberInput(attrs={"data-kind": "infusion", "step": "any"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        # Only the values of the chosen kind are sent: the hidden ones may still hold old input.
        if data.get("kind") == PrescriptionLine.Kind.BOLUS:
            data["rate_mg_per_h"] = data["hours_per_day"] = None
        elif data.get("kind") == PrescriptionLine.Kind.INFUSION:
            data["dose_mg"] = data["doses_per_day"] = None
        return data


LineFormSet = forms.formset_factory(LineForm, extra=0, min_num=1, validate_min=True, max_num=20)

PRESCRIPTION_FIELDS = {
    "declared_lines_mismatch": "declared_lines",
    "duration_exceeded": "duration_days",
    "issued_on_in_future": "issued_on",
    "fraction_invalid": "fraction_days",
    "prescription_overlap": "overlap_authorized",
    "secure_form_lot_required": "secure_form_lot",
}

PRESCRIPTION_WORDINGS: dict[str, Wording] = {
    "declared_lines_mismatch": lambda e: _(
        "The number declared on the form must equal the number of lines entered (R.5132-5): %(entered)s."
    ) % {"entered": (e.fields or {}).get("declared_lines", [""])[0]},
    "duration_exceeded": lambda e: _("A ketamine prescription covers at most %(days)s days (R.5132-30).")
    % {"days": e.extra.get("max_days", "")},
    "issued_on_in_future": lambda e: _("The date of the prescription cannot be in the future."),
    "fraction_invalid": lambda e: _("The split is between 1 day and the duration of the prescription."),
    "prescription_overlap": lambda e: _(
        "You already have a current prescription (no. %(numbers)s) for this patient over this period "
        "(R.5132-33). Tick this box only if the overlap is intended, and write it on the form."
    ) % {"numbers": ", ".join(map(str, e.extra.get("overlapping", [])))},
    "prescriber_incomplete": lambda e: _(
        "Your prescriber identity (role, RPPS number, address) is not complete: ask the pharmacy to register it."
    ),
}


class CancelForm(forms.Form):
    reason = forms.CharField(label=_("Reason for the cancellation"), max_length=500,
                             widget=forms.Textarea(attrs={"rows": 2}))


class DispensationForm(forms.Form):
    lot = LotChoiceField(label=_("Lot to dispense"), queryset=Lot.objects.none(), empty_label=_("— Choose —"))
    quantity = forms.IntegerField(label=_("Quantity (units)"), min_value=1, max_value=10000)
    bearer_name = forms.CharField(
        label=_("Bearer's name"), max_length=200, required=False,
        help_text=_("Only if someone other than the patient collects (R.5132-35)."),
    )
    bearer_id = forms.CharField(label=_("Bearer's identity document"), max_length=100, required=False)
    override_justification = forms.CharField(
        label=_("Pharmacist's justification to dispense despite the blocking alert"), required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, lots: Any, can_override: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["lot"].queryset = lots  # type: ignore[attr-defined]
        if not can_override:
            # Only a pharmacist may override (API.md): the field does not exist for anyone else.
            del self.fields["override_justification"]
        else:
            self.fields["override_justification"].help_text = _(
                "At least %(chars)s characters; kept on the dispensation and in the audit trail."
            ) % {"chars": settings.KETAMINE_RULES["OVERRIDE_MIN_CHARS"]}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if bool(data.get("bearer_name", "").strip()) != bool(data.get("bearer_id", "").strip()):
            self.add_error("bearer_id" if data.get("bearer_name") else "bearer_name",
                           _("Give both the bearer's name and identity document, or neither."))
        return data


DISPENSATION_FIELDS = {
    "presentation_late": "quantity",
    "fraction_exceeded": "quantity",
    "prescription_exhausted": "quantity",
    "insufficient_stock": "quantity",
    "lot_product_mismatch": "lot",
    "lot_expired": "lot",
    "lot_quarantined": "lot",
    "bearer": "bearer_name",
    # Next to the justification box for a pharmacist; above the form for anyone else (no box).
    "hepatotoxic_risk": "override_justification",
}


def _dispensable(e: DomainError) -> dict[str, Any]:
    return {"units": e.extra.get("dispensable_quantity", 0), "mg": e.extra.get("dispensable_mg", "")}


DISPENSATION_WORDINGS: dict[str, Wording] = {
    "presentation_late": lambda e: _(
        "Presented more than 3 days after its date (R.5132-33): only the %(days)s remaining day(s) may be "
        "dispensed, at most %(units)s unit(s) (%(mg)s mg)."
    ) % {"days": e.extra.get("remaining_days", 0), **_dispensable(e)},
    "fraction_exceeded": lambda e: _(
        "Split dispensing every %(days)s day(s): at most %(units)s unit(s) (%(mg)s mg) this time."
    ) % {"days": e.extra.get("fraction_days", ""), **_dispensable(e)},
    "prescription_exhausted": lambda e: _(
        "Only %(units)s unit(s) (%(mg)s mg) remain to be dispensed on this prescription."
    ) % _dispensable(e),
    "insufficient_stock": lambda e: _("Only %(on_hand)s unit(s) of this lot in the vault.")
    % {"on_hand": e.extra.get("on_hand", 0)},
    "lot_product_mismatch": lambda e: _("This lot is not the prescribed product (check the concentration)."),
    "prescription_cancelled": lambda e: _("This prescription was cancelled: nothing can be dispensed."),
    "prescription_expired": lambda e: _("This prescription has expired: nothing can be dispensed."),
    "override_forbidden": lambda e: _("Only a pharmacist may override a hepatotoxic alert."),
    "hepatotoxic_risk": lambda e: _(
        "Not dispensed: a blocking hepatotoxic alert applies. A pharmacist must decide, and may dispense with a "
        "written justification of at least %(chars)s characters."
    ) % {"chars": settings.KETAMINE_RULES["OVERRIDE_MIN_CHARS"]},
    # Only a pharmacist has the box: the refusal tells her what to write.
    "hepatotoxic_risk:override_justification": lambda e: _(
        "Write your justification (at least %(chars)s characters) to dispense despite the blocking alert."
    ) % {"chars": settings.KETAMINE_RULES["OVERRIDE_MIN_CHARS"]},
}


def alerts_for_display(alerts: list[dict[str, str]]) -> list[dict[str, str]]:
    """Blocking alerts first: they decide what happens next."""
    return sorted(alerts, key=lambda alert: alert["severity"] != "blocking")


def line_errors(formset: Any, error: DomainError) -> bool:
    """Errors of one line (``fields={"lines": {"0": {...}}}``) go on that line's fields."""
    per_line = (error.fields or {}).get("lines") if isinstance(error.fields, dict) else None
    if not isinstance(per_line, dict):
        return False
    for index, errors in per_line.items():
        form = formset.forms[int(index)]
        for name in errors:
            if name in form.fields:
                form.add_error(name, _("Required and greater than 0 for this kind of line."))
    return True
