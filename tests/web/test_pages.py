"""The web pages through Django's test client: who may open what, and the writes they make."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from audit.models import AuditEvent
from register.models import Lot, Movement, StockBalance
from tests.conftest import tamper_as_superuser

PAGES = ["/stock/", "/stock/receipt/", "/stock/exit/", "/register/", "/inspection/", "/audit/"]


def client_of(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("path", [*PAGES, "/"])
def test_anonymous_is_redirected_to_login(db: Any, path: str) -> None:
    """Every page sends an anonymous visitor to the login page."""
    response = Client().get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


@pytest.mark.parametrize(
    ("persona", "path", "status"),
    [
        ("technician", "/stock/", 200),
        ("technician", "/stock/receipt/", 200),
        ("technician", "/stock/exit/", 200),
        ("technician", "/register/", 200),
        ("technician", "/inspection/", 403),
        ("technician", "/audit/", 403),
        ("pharmacist", "/inspection/", 200),
        ("pharmacist", "/audit/", 200),
        ("inspector", "/stock/", 403),
        ("inspector", "/stock/receipt/", 403),
        ("inspector", "/register/", 200),
        ("inspector", "/inspection/", 200),
        ("inspector", "/audit/", 200),
        ("prescriber", "/stock/", 403),
        ("prescriber", "/register/", 403),
        ("prescriber", "/audit/", 403),
        ("nurse", "/register/", 403),
    ],
)
def test_permission_matrix(demo: Any, persona: str, path: str, status: int) -> None:
    """Each role opens its pages and is refused the others (the API's role sets)."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username=persona)
    assert client_of(user).get(path).status_code == status


def test_home_sends_each_role_to_its_page(technician: Any, inspector: Any, prescriber: Any) -> None:
    """The pharmacy lands on the stock, the inspector on the inspection page, the prescriber on patients."""
    assert client_of(technician).get("/")["Location"] == "/stock/"
    assert client_of(inspector).get("/")["Location"] == "/inspection/"
    assert client_of(prescriber).get("/")["Location"] == "/patients/"


def test_pages_forbid_inline_and_foreign_scripts(technician: Any) -> None:
    """Every page carries a Content-Security-Policy allowing only its own scripts and styles;
    the API docs (Swagger UI from its CDN) are the one exception."""
    policy = client_of(technician).get("/stock/")["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "Content-Security-Policy" not in client_of(technician).get("/api/v1/docs/")


def test_outsider_sees_nothing_of_demo(demo: Any, outsider: Any, lot_50: Lot) -> None:
    """A pharmacist of OTHER gets 404 for DEMO's lines and establishment, and sees only OTHER."""
    client = client_of(outsider)
    line = Movement.objects.filter(establishment=demo["DEMO"]).first()
    assert line is not None
    assert client.get(f"/register/{line.pk}/").status_code == 404
    assert client.get("/register/?establishment=DEMO").status_code == 404
    assert client.get("/audit/?establishment=DEMO").status_code == 404
    page = client.get("/stock/").content.decode()
    assert "Centre hospitalier Autre" in page
    assert "CHU Démo" not in page
    audit = client.get("/audit/").content.decode()
    assert f"Movement #{line.pk}<" not in audit


def test_technician_records_a_receipt_on_an_existing_lot(technician: Any, lot_50: Lot) -> None:
    """A receipt posts through movement_record: one new line, the stock grows."""
    response = client_of(technician).post(
        "/stock/receipt/", {"lot": lot_50.pk, "quantity": "5", "counterparty": "Grossiste Test"}
    )
    line = Movement.objects.filter(lot=lot_50).order_by("-number").first()
    assert line is not None
    assert response.status_code == 302
    assert response["Location"] == f"/register/{line.pk}/"
    assert (line.reason, line.quantity, line.balance_after, line.recorded_by_name) == ("receipt", 5, 45, "technician")


def test_receipt_creates_a_new_lot_in_the_same_transaction(technician: Any, product_50: Any, demo: Any) -> None:
    """A receipt on a new lot creates the lot and its first line together."""
    response = client_of(technician).post(
        "/stock/receipt/",
        {"product": product_50.pk, "batch_number": "NEW-77", "expires_on": "2030-01-31", "quantity": "12"},
    )
    assert response.status_code == 302
    lot = Lot.objects.get(establishment=demo["DEMO"], batch_number="NEW-77")
    assert StockBalance.objects.get(lot=lot).on_hand == 12


def test_receipt_refused_by_the_service_leaves_nothing(technician: Any, product_50: Any, demo: Any) -> None:
    """An expired new lot: the service's message is shown next to the expiry field, no lot is left."""
    response = client_of(technician).post(
        "/stock/receipt/",
        {"product": product_50.pk, "batch_number": "OLD-1", "expires_on": "2020-01-31", "quantity": "3"},
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "périmé" in errors["expires_on"][0]
    assert not Lot.objects.filter(batch_number="OLD-1").exists()


def test_receipt_new_lot_fields_are_required_without_a_lot(technician: Any) -> None:
    """Without an existing lot, product, batch and expiry are each marked missing."""
    response = client_of(technician).post("/stock/receipt/", {"quantity": "3"})
    errors = response.context["form"].errors
    assert set(errors) == {"product", "batch_number", "expires_on"}


def test_exit_beyond_stock_shows_the_service_error_next_to_quantity(pharmacist: Any, lot_50: Lot, demo: Any) -> None:
    """insufficient_stock from movement_record lands on the quantity field; nothing is written."""
    before = Movement.objects.count()
    vault = demo["DEMO"].locations.get(code="VAULT")
    response = client_of(pharmacist).post(
        "/stock/exit/", {"reason": "loss", "lot": lot_50.pk, "location": vault.pk, "quantity": "41"}
    )
    assert response.status_code == 200
    assert "Seulement 40" in response.context["form"].errors["quantity"][0]
    assert Movement.objects.count() == before


def test_exit_reasons_are_the_direct_ones(pharmacist: Any, lot_50: Lot, demo: Any) -> None:
    """A dispensation cannot be posted through the exit form."""
    vault = demo["DEMO"].locations.get(code="VAULT")
    response = client_of(pharmacist).post(
        "/stock/exit/", {"reason": "dispensation", "lot": lot_50.pk, "location": vault.pk, "quantity": "1"}
    )
    assert "reason" in response.context["form"].errors


def test_late_exit_requires_its_reason(pharmacist: Any, lot_50: Lot, demo: Any) -> None:
    """A line dated three days ago without a reason is refused next to the late-entry field."""
    vault = demo["DEMO"].locations.get(code="VAULT")
    response = client_of(pharmacist).post(
        "/stock/exit/",
        {"reason": "theft", "lot": lot_50.pk, "location": vault.pk, "quantity": "1", "occurred_at": "2026-01-02T10:00"},
    )
    assert "late_entry_reason" in response.context["form"].errors


def test_register_filters_and_detail_show_the_hash(inspector: Any, lot_50: Lot) -> None:
    """The register lists the filtered lines; a line's page shows its hash and previous hash."""
    client = client_of(inspector)
    page = client.get(f"/register/?lot={lot_50.pk}")
    lines = list(page.context["page"].object_list)
    assert [line.lot_id for line in lines] == [lot_50.pk]
    detail = client.get(f"/register/{lines[0].pk}/").content.decode()
    assert lines[0].hash in detail
    assert lines[0].prev_hash in detail


def test_register_is_paginated(pharmacist: Any, lot_50: Lot) -> None:
    """Past 50 lines the register pages, keeping the filters in the links."""
    from register import services

    for _ in range(50):
        services.movement_record(actor=pharmacist, lot=lot_50, direction="exit", reason="loss", quantity=0 + 1 - 0)
        services.movement_record(actor=pharmacist, lot=lot_50, direction="entry", reason="return", quantity=1)
    response = client_of(pharmacist).get(f"/register/?lot={lot_50.pk}")
    assert response.context["page"].paginator.num_pages == 3
    assert f"lot={lot_50.pk}&amp;page=2" in response.content.decode()


def test_inspector_verifies_green_and_gets_export_links(inspector: Any, demo: Any, product_50: Any) -> None:
    """Verification answers a green panel and is audited; export links carry the page's filters."""
    response = client_of(inspector).post(
        "/inspection/", {"establishment": "DEMO", "from": "2026-01-01", "to": "2026-12-31", "product": product_50.pk}
    )
    assert response.context["result"].ok
    body = response.content.decode()
    assert "panel ok verdict" in body
    query = f"establishment=DEMO&amp;from=2026-01-01&amp;to=2026-12-31&amp;product={product_50.pk}"
    assert f'href="/api/v1/register/export.pdf?{query}"' in body
    assert f'href="/api/v1/register/export.csv?{query}"' in body
    assert AuditEvent.objects.filter(action="register.verified", actor=inspector).exists()


def test_inspector_sees_the_first_broken_line_in_red(inspector: Any, demo: Any) -> None:
    """A tampered line makes the verdict red and names that line."""
    line = Movement.objects.filter(establishment=demo["DEMO"]).order_by("number")[1]
    tamper_as_superuser("UPDATE register_movement SET counterparty = 'x' WHERE id = %s", [line.pk])
    response = client_of(inspector).post("/inspection/", {"establishment": "DEMO"})
    assert not response.context["result"].ok
    assert response.context["result"].first_broken == line.number
    assert f'href="/register/{line.pk}/"' in response.content.decode()


def test_inspector_cannot_choose_an_establishment_not_assigned(inspector: Any) -> None:
    """OTHER is not offered and is refused as a choice."""
    response = client_of(inspector).get("/inspection/?establishment=OTHER")
    assert response.status_code == 404


def test_audit_page_filters_by_action(inspector: Any, pharmacist: Any, lot_50: Lot) -> None:
    """The audit trail lists the establishment's events and filters them by action."""
    client = client_of(inspector)
    client.post("/inspection/", {"establishment": "DEMO"})
    response = client.get("/audit/?action=register.verified")
    events = list(response.context["page"].object_list)
    assert events
    assert {event.action for event in events} == {"register.verified"}
    everything = client.get("/audit/").context["page"].paginator.count
    assert everything > len(events)


def test_audit_page_shows_the_members_logins_not_strangers(pharmacist: Any, outsider: Any) -> None:
    """Logins carry no establishment: the page shows those of the establishment's members (as the
    API does), a failed login typed for a member included, and never another establishment's."""
    Client().post("/login/", {"username": "technician", "password": "wrong-password"})
    Client().post("/login/", {"username": "outsider", "password": "wrong-password"})
    client_of(pharmacist).get("/")
    events = client_of(pharmacist).get("/audit/?action=auth.login.failed").context["page"].object_list
    assert [event.actor_username for event in events] == ["technician"]
    assert not any(event.actor_username == "outsider" for event in client_of(pharmacist).get("/audit/").context["page"])


def test_stock_dashboard_warns_of_expiry_and_draws_each_lot(technician: Any, make_lot: Any, demo: Any) -> None:
    """Lots expiring within 90 days or expired are flagged; each lot row has its SVG chart."""
    import datetime as dt

    from django.utils import timezone

    from register.models import Lot as LotModel

    lot = make_lot(units=3, batch="SOON-1")
    # An expiry date is a lot's property; the demo lot is moved close to it directly for the test.
    LotModel.objects.filter(pk=lot.pk).update(expires_on=timezone.localdate() + dt.timedelta(days=20))
    page = client_of(technician).get("/stock/").content.decode()
    assert "20 jours restants" in page or "20 days left" in page
    assert page.count('<svg class="spark"') == 5


def test_language_switch_changes_the_interface(technician: Any, lot_50: Lot) -> None:
    """French by default; the language form switches to English, dates stay day/month/year."""
    client = client_of(technician)
    assert "Enregistrer une réception" in client.get("/stock/").content.decode()
    client.post("/i18n/setlang/", {"language": "en", "next": "/stock/"})
    english = client.get("/stock/").content.decode()
    assert "Record a receipt" in english
    assert lot_50.expires_on.strftime("%d/%m/%Y") in english


def test_forms_carry_a_csrf_token(technician: Any) -> None:
    """Posting without the CSRF token is refused."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(technician)
    assert 'name="csrfmiddlewaretoken"' in client.get("/stock/receipt/").content.decode()
    assert client.post("/stock/receipt/", {"quantity": "1"}).status_code == 403


def test_inspector_of_two_establishments_switches_between_them(inspector: Any, demo: Any) -> None:
    """An inspector assigned to DEMO and OTHER chooses either; each page then shows that one only."""
    demo["OTHER"].members.add(inspector)
    client = client_of(inspector)
    page = client.get("/inspection/").content.decode()
    assert 'value="OTHER"' in page and 'value="DEMO"' in page
    response = client.get("/inspection/?establishment=OTHER")
    assert response.context["establishment"].code == "OTHER"
    assert 'href="/api/v1/register/export.pdf?establishment=OTHER"' in response.content.decode()
    # The choice is remembered for the next pages of the session.
    lines = client.get("/register/").context["page"].object_list
    assert {line.establishment.code for line in lines} == {"OTHER"}
    events = client.get("/audit/").context["page"].object_list
    # OTHER's events, plus the members' own logins (which belong to no establishment).
    assert events and {event.establishment_id for event in events if event.establishment_id} == {demo["OTHER"].pk}
    assert all(event.action.startswith("auth.") for event in events if event.establishment_id is None)


def test_pharmacist_reverses_a_line_once(pharmacist: Any, lot_50: Lot) -> None:
    """The correction writes the opposite line pointing at the original; a second one is refused on the page."""
    client = client_of(pharmacist)
    from register import services

    line = services.movement_record(actor=pharmacist, lot=lot_50, direction="exit", reason="loss", quantity=3)
    page = client.get(f"/register/{line.pk}/").content.decode()
    assert f'action="/register/{line.pk}/reverse/"' in page
    response = client.post(f"/register/{line.pk}/reverse/", {"reason": "Saisie en double"})
    reversal = Movement.objects.get(reverses=line)
    assert response["Location"] == f"/register/{reversal.pk}/"
    assert (reversal.direction, reversal.quantity, reversal.balance_after) == ("entry", 3, 40)
    again = client.post(f"/register/{line.pk}/reverse/", {"reason": "Encore"})
    assert again.status_code == 200
    assert "déjà été annulée" in again.content.decode()
    assert Movement.objects.filter(reverses=line).count() == 1


def test_reversal_needs_a_reason_and_a_pharmacist(pharmacist: Any, technician: Any, lot_50: Lot) -> None:
    """No reason: error next to the field; a technician is refused (403) and sees no correction form."""
    line = Movement.objects.filter(lot=lot_50).first()
    assert line is not None
    response = client_of(pharmacist).post(f"/register/{line.pk}/reverse/", {"reason": ""})
    assert "reason" in response.context["reverse_form"].errors
    assert client_of(technician).post(f"/register/{line.pk}/reverse/", {"reason": "x"}).status_code == 403
    assert "/reverse/" not in client_of(technician).get(f"/register/{line.pk}/").content.decode()


def test_reversing_a_consumed_receipt_is_refused_with_the_stock_left(pharmacist: Any, lot_50: Lot, demo: Any) -> None:
    """Reversing a receipt whose units already left answers the service's insufficient-stock refusal."""
    from register import services

    receipt = Movement.objects.filter(lot=lot_50).first()
    assert receipt is not None
    services.movement_record(actor=pharmacist, lot=lot_50, direction="exit", reason="loss", quantity=39)
    response = client_of(pharmacist).post(f"/register/{receipt.pk}/reverse/", {"reason": "Erreur de lot"})
    assert "il n’en reste que 1" in response.content.decode() or "only 1 left" in response.content.decode()
    assert not Movement.objects.filter(reverses=receipt).exists()


def test_errors_are_tied_to_their_field_for_screen_readers(pharmacist: Any, lot_50: Lot, demo: Any) -> None:
    """A refused field is marked invalid and points at its error message and help text."""
    vault = demo["DEMO"].locations.get(code="VAULT")
    html = client_of(pharmacist).post(
        "/stock/exit/", {"reason": "loss", "lot": lot_50.pk, "location": vault.pk, "quantity": "999"}
    ).content.decode()
    assert 'aria-invalid="true"' in html
    assert 'aria-describedby="id_quantity_error"' in html
    assert 'id="id_quantity_error"' in html
    assert 'aria-describedby="id_occurred_at_helptext"' in html
    assert 'id="id_occurred_at_helptext"' in html


def test_register_offers_exports_with_its_filters_to_control_roles(pharmacist: Any, technician: Any, product_50: Any) -> None:
    """Pharmacist and inspector get PDF/CSV links carrying the page's product and dates; a technician none."""
    path = f"/register/?product={product_50.pk}&from=2026-02-01&to=2026-03-31"
    html = client_of(pharmacist).get(path).content.decode()
    assert f'href="/api/v1/register/export.pdf?establishment=DEMO&amp;from=2026-02-01&amp;to=2026-03-31&amp;product={product_50.pk}"' in html
    assert "/api/v1/register/export.csv?" in html
    assert "/api/v1/register/export" not in client_of(technician).get(path).content.decode()
