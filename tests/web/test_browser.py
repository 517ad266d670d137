"""End-to-end journeys in headless Chromium (Debian's package), one per role of the web pages.

Screenshots of each main page go to tests/artifacts/ (git-ignored) for a person to look at.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from typing import Any

import pytest
from django.utils import timezone

from register.models import Lot, Movement, StockBalance
from tests.conftest import PASSWORD
from tests.web.conftest import ARTIFACTS, CHROMIUM

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not (os.path.exists(CHROMIUM) and shutil.which("chromium")),
        reason="Chromium is missing: install it with `apt-get update && apt-get install -y chromium` "
        "(never `playwright install`).",
    ),
]


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def login(page: Any, username: str) -> None:
    page.goto(page.base + "/login/")
    page.get_by_label("Nom d’utilisateur").fill(username)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()


def test_technician_records_a_receipt_and_sees_the_stock_grow(page: Any) -> None:
    """A technician logs in, records a receipt of 6 ampoules, and the lot's stock shows 46."""
    page.goto(page.base + "/stock/")
    assert "/login/" in page.url
    shot(page, "01-login")
    login(page, "technician")
    page.wait_for_url("**/stock/")
    assert page.get_by_test_id("establishment-name").inner_text() == "CHU Démo"
    assert page.get_by_test_id("role").inner_text() == "Préparateur(trice) en pharmacie"
    assert page.get_by_test_id("total-K50-2401").inner_text().startswith("40")
    shot(page, "02-stock-technician")

    page.get_by_role("link", name="Enregistrer une réception").click()
    lot = Lot.objects.get(establishment__code="DEMO", batch_number="K50-2401")
    page.get_by_label("Lot déjà au registre").select_option(str(lot.pk))
    assert not page.locator("[data-new-lot]").is_visible()
    page.get_by_label("Quantité (unités)").fill("6")
    page.get_by_label("Fournisseur (nom et adresse)").fill("Grossiste PharmaDis, 93200 Saint-Denis")
    shot(page, "03-receipt-form")
    page.get_by_role("button", name="Enregistrer la réception").click()
    page.wait_for_url("**/register/*/")
    assert "enregistrée" in page.locator(".messages").inner_text()
    assert page.get_by_test_id("balance-after").inner_text() == "46"
    assert len(page.get_by_test_id("hash").inner_text()) == 64
    shot(page, "04-line-detail")

    page.get_by_role("link", name="Stock", exact=True).click()
    assert page.get_by_test_id("total-K50-2401").inner_text().startswith("46")
    shot(page, "05-stock-after-receipt")
    assert StockBalance.objects.get(lot=lot, location__code="VAULT").on_hand == 46


def test_receipt_of_a_new_lot_shows_errors_next_to_fields(page: Any) -> None:
    """Missing new-lot fields are named next to each field; an expired lot is refused by the service."""
    login(page, "technician")
    page.goto(page.base + "/stock/receipt/")
    assert page.locator("[data-new-lot]").is_visible()
    page.get_by_label("Quantité (unités)").fill("3")
    page.get_by_role("button", name="Enregistrer la réception").click()
    assert page.locator("#id_batch_number_error").inner_text().startswith("Obligatoire pour un nouveau lot")
    page.get_by_label("Produit").select_option(label="Kétamine 50 mg/5 mL, solution injectable")
    page.get_by_label("Numéro de lot").fill("OLD-2019")
    page.get_by_label("Date de péremption").fill("2020-06-30")
    page.get_by_role("button", name="Enregistrer la réception").click()
    assert "périmé" in page.locator("#id_expires_on_error").inner_text()
    shot(page, "06-receipt-errors")
    assert not Lot.objects.filter(batch_number="OLD-2019").exists()


def test_pharmacist_records_an_exit(page: Any, make_lot: Any) -> None:
    """A pharmacist sees the expiry warnings, then records a loss: too many is refused next to the
    quantity, then 2 are taken out."""
    today = timezone.localdate()
    for batch, days in (("SOON-01", 20), ("PAST-01", -3)):
        lot = make_lot(units=4, batch=batch)
        # Time passes: the lots draw near their expiry date (a lot's date, not a register line).
        Lot.objects.filter(pk=lot.pk).update(expires_on=today + dt.timedelta(days=days))
    login(page, "pharmacist")
    page.wait_for_url("**/stock/")
    warning = page.locator(".panel.warn").inner_text()
    assert "Lot périmé encore en stock : PAST-01. Mettez-le en quarantaine pour destruction." in warning
    assert "Lot arrivant à péremption dans moins de 90 jours : SOON-01." in warning
    assert page.locator("tr[data-lot='SOON-01'] .badge.warn").inner_text() == "20 jours restants"
    assert page.locator("tr[data-lot='PAST-01'] .badge.bad").inner_text() == "périmé"
    shot(page, "07-stock-expiry-warnings")
    page.get_by_role("link", name="Sortie", exact=True).click()
    lot = Lot.objects.get(establishment__code="DEMO", batch_number="K250-2402")
    page.get_by_label("Motif", exact=True).select_option("loss")
    page.get_by_label("Lot", exact=True).select_option(str(lot.pk))
    page.get_by_label("Quantité (unités)").fill("999")
    page.get_by_label("Tiers (fournisseur, dépôt de plainte, unité de soins…)").fill("Ampoules brisées au déballage")
    page.get_by_role("button", name="Enregistrer la sortie").click()
    assert "Seulement 25" in page.locator("#id_quantity_error").inner_text()
    shot(page, "08-exit-refused")
    page.get_by_label("Quantité (unités)").fill("2")
    page.get_by_role("button", name="Enregistrer la sortie").click()
    page.wait_for_url("**/register/*/")
    assert page.get_by_test_id("balance-after").inner_text() == "23"
    line = Movement.objects.get(lot=lot, reason="loss")
    assert (line.quantity, line.recorded_by_name) == (2, "pharmacist")

    # The loss was typed twice by mistake on paper: the pharmacist corrects it with the opposite line.
    page.get_by_label("Motif de la correction").fill("Perte déjà déclarée sur une autre ligne")
    shot(page, "09-line-correction")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=f"Annuler la ligne n° {line.number} par une écriture inverse").click()
    page.wait_for_url(lambda url: not url.endswith(f"/register/{line.pk}/"))
    assert page.get_by_test_id("balance-after").inner_text() == "25"
    assert Movement.objects.get(reverses=line).recorded_by_name == "pharmacist"

    page.goto(page.base + "/register/")
    shot(page, "10-register-after-correction")


def test_inspector_verifies_and_downloads_the_pdf(page: Any) -> None:
    """An inspector chooses a period, runs the verification (green) and downloads the register PDF."""
    year = timezone.localdate().year
    login(page, "inspector")
    page.wait_for_url("**/inspection/")
    assert page.get_by_test_id("role").inner_text() == "Inspecteur(trice)"
    page.get_by_label("Du", exact=True).fill(f"{year}-01-01")
    page.get_by_label("Au", exact=True).fill(f"{year}-12-31")
    page.get_by_role("button", name="Afficher").click()
    page.get_by_role("button", name="Vérifier le registre").click()
    verdict = page.get_by_test_id("verdict")
    assert "Le registre est intègre." in verdict.inner_text()
    assert "panel ok" in verdict.get_attribute("class")
    pdf = page.get_by_role("link", name="Télécharger le PDF")
    assert pdf.get_attribute("href") == f"/api/v1/register/export.pdf?establishment=DEMO&from={year}-01-01&to={year}-12-31"
    csv = page.get_by_role("link", name="Télécharger le CSV")
    assert csv.get_attribute("href") == f"/api/v1/register/export.csv?establishment=DEMO&from={year}-01-01&to={year}-12-31"
    with page.expect_download() as download:
        pdf.click()
    with open(download.value.path(), "rb") as handle:
        assert handle.read(5) == b"%PDF-"
    assert download.value.suggested_filename.startswith("registre-DEMO-")
    shot(page, "11-inspection-verified")

    page.get_by_role("link", name="Journal d’audit").first.click()
    page.get_by_label("Action").select_option("register.verified")  # submits itself (data-autosubmit)
    page.wait_for_url(lambda url: "action=register.verified" in url)
    actions = page.locator("table.audit tbody td:nth-child(3)").all_inner_texts()
    assert actions == ["register.verified"]
    shot(page, "12-audit")


def test_interface_switches_to_english_and_logs_out(page: Any) -> None:
    """The language buttons switch the interface to English and back; logging out closes the session."""
    login(page, "technician")
    page.wait_for_url("**/stock/")
    page.get_by_role("button", name="EN").click()
    page.get_by_role("link", name="Record a receipt").wait_for()
    shot(page, "13-stock-english")
    page.get_by_role("button", name="FR").click()
    page.get_by_role("link", name="Enregistrer une réception").wait_for()
    page.get_by_role("button", name="Se déconnecter").click()
    page.wait_for_url("**/login/")
    page.goto(page.base + "/stock/")
    assert "/login/" in page.url


def test_stock_at_phone_width_stays_usable(page: Any) -> None:
    """At a narrow width the header and tables wrap without hiding the actions."""
    page.set_viewport_size({"width": 420, "height": 900})
    login(page, "technician")
    page.wait_for_url("**/stock/")
    assert page.get_by_role("link", name="Enregistrer une réception").is_visible()
    shot(page, "14-stock-narrow")
