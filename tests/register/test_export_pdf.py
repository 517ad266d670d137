"""The PDF register (R.5132-36): header on every page, n / N, every line once, status, summary."""

from __future__ import annotations

import datetime as dt
import io
import shutil
import subprocess
from pathlib import Path

import time_machine
from django.utils import timezone

from register import services
from register.export.lines import ExportScope
from register.export.pdf import write_register_pdf
from register.models import Movement, StockBalance
from tests.conftest import tamper_as_superuser
from tests.register.export_helpers import (
    PAGE_NUMBER,
    pdf_order_numbers,
    pdf_order_numbers_by_page,
    pdf_texts,
    record_lines,
)

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def _pdf(establishment, **filters) -> bytes:
    out = io.BytesIO()
    write_register_pdf(out, ExportScope.snapshot(establishment, **filters), edited_by="Sophie Leroy (inspector)")
    return out.getvalue()


def _numbers(establishment, **filters) -> list[int]:
    scope = ExportScope.snapshot(establishment, **filters)
    return list(scope.lines().values_list("number", flat=True))


def test_every_page_shows_the_establishment_period_and_page_n_of_n(demo, pharmacist, make_lot):
    """Name, address lines, period and "Page n / N" are on each page; N is the real page count."""
    record_lines(pharmacist, make_lot(units=20), 70)
    texts = pdf_texts(_pdf(demo["DEMO"]))
    assert len(texts) >= 3
    for index, text in enumerate(texts, start=1):
        assert "CHU Démo" in text
        assert "1 place de l'Hôpital" in text and "75014 Paris" in text
        assert "Période : depuis la première ligne" in text
        assert PAGE_NUMBER.search(text).groups() == (str(index), str(len(texts)))


def test_every_line_of_the_register_appears_exactly_once_in_order(demo, pharmacist, make_lot):
    """The order numbers printed in the first column are exactly the register's, each once."""
    record_lines(pharmacist, make_lot(units=20), 70)
    assert pdf_order_numbers(_pdf(demo["DEMO"])) == _numbers(demo["DEMO"])


def test_each_page_shows_the_chain_hash_of_its_last_line(demo, pharmacist, make_lot):
    """The footer of each page names the last line drawn on it and that line's hash."""
    record_lines(pharmacist, make_lot(units=20), 40)
    data = _pdf(demo["DEMO"])
    hashes = dict(Movement.objects.filter(establishment=demo["DEMO"]).values_list("number", "hash"))
    pages = pdf_order_numbers_by_page(data)
    texts = pdf_texts(data)
    assert len(pages) >= 2
    for numbers, text in zip(pages, texts, strict=True):
        if numbers:
            footer = " ".join(line for line in text.splitlines() if "Empreinte de la chaîne" in line)
            assert f"(n° {numbers[-1]}) : {hashes[numbers[-1]]}" in footer


def test_filters_restrict_the_lines_to_the_period_and_product(demo, pharmacist, make_lot, product_50):
    """from/to keep the lines whose operation date is in the period; product keeps one product."""
    lot = make_lot(units=10)
    with time_machine.travel(timezone.now() + dt.timedelta(days=3)):
        record_lines(pharmacist, lot, 4)
        later = timezone.localdate()
    data = _pdf(demo["DEMO"], date_from=later, date_to=later)
    assert pdf_order_numbers(data) == _numbers(demo["DEMO"], date_from=later, date_to=later)
    assert len(pdf_order_numbers(data)) == 4
    assert f"du {later:%d/%m/%Y} au {later:%d/%m/%Y}" in pdf_texts(data)[0]
    by_product = _pdf(demo["DEMO"], product=product_50)
    expected = list(Movement.objects.filter(lot__product=product_50, establishment=demo["DEMO"])
                    .order_by("number").values_list("number", flat=True))
    assert pdf_order_numbers(by_product) == expected


def test_first_page_says_the_chain_was_verified(demo):
    """A sound register: "Chaîne vérifiée jusqu'à la ligne N" with N its length."""
    text = pdf_texts(_pdf(demo["DEMO"]))[0]
    lines = Movement.objects.filter(establishment=demo["DEMO"]).count()
    assert f"Chaîne vérifiée jusqu'à la ligne {lines} le" in " ".join(text.split())


def test_first_page_says_where_the_chain_is_broken(demo, pharmacist, make_lot):
    """A tampered line: the first page says "ROMPUE à la ligne N" instead."""
    lines = record_lines(pharmacist, make_lot(units=5), 3)
    tamper_as_superuser("UPDATE register_movement SET quantity = 9 WHERE id = %s", [lines[1].pk])
    text = " ".join(pdf_texts(_pdf(demo["DEMO"]))[0].split())
    assert f"Chaîne ROMPUE à la ligne {lines[1].number}" in text
    assert "Chaîne vérifiée" not in text


def _statement(data: bytes) -> str:
    return " ".join(pdf_texts(data)[0].split())


def test_a_line_tampered_inside_the_period_is_named_on_page_one(demo, pharmacist, make_lot):
    """The export verifies while it draws: a tampered line of the period turns page 1 red, naming it."""
    lot = make_lot(units=5)
    with time_machine.travel(timezone.now() + dt.timedelta(days=3)):
        lines = record_lines(pharmacist, lot, 4)
        later = timezone.localdate()
    tamper_as_superuser("UPDATE register_movement SET patient_name = 'X' WHERE id = %s", [lines[2].pk])
    data = _pdf(demo["DEMO"], date_from=later, date_to=later)
    text = _statement(data)
    assert f"Chaîne ROMPUE à la ligne {lines[2].number}" in text
    assert "Chaîne vérifiée" not in text
    assert pdf_order_numbers(data) == [line.number for line in lines]  # every line still printed


def test_a_line_tampered_before_the_period_is_named_on_page_one(demo, pharmacist, make_lot):
    """Lines before the period are not printed but are verified: the red statement names the line."""
    lot = make_lot(units=5)
    before = record_lines(pharmacist, lot, 3)
    with time_machine.travel(timezone.now() + dt.timedelta(days=3)):
        record_lines(pharmacist, lot, 2)
        later = timezone.localdate()
    tamper_as_superuser("UPDATE register_movement SET quantity = 9 WHERE id = %s", [before[1].pk])
    data = _pdf(demo["DEMO"], date_from=later)
    text = _statement(data)
    assert f"Chaîne ROMPUE à la ligne {before[1].number}" in text
    assert "Chaîne vérifiée" not in text
    assert before[1].number not in pdf_order_numbers(data)


def test_a_line_tampered_after_the_period_is_named_on_page_one(demo, pharmacist, make_lot):
    """Lines after the period, up to the export's head, are verified too."""
    lot = make_lot(units=5)
    record_lines(pharmacist, lot, 2)
    today = timezone.localdate()
    with time_machine.travel(timezone.now() + dt.timedelta(days=3)):
        after = record_lines(pharmacist, lot, 3)
    tamper_as_superuser("UPDATE register_movement SET prev_hash = %s WHERE id = %s", ["1" * 64, after[1].pk])
    text = _statement(_pdf(demo["DEMO"], date_to=today))
    assert f"Chaîne ROMPUE à la ligne {after[1].number}" in text
    assert "previous-hash link broken" in text


def test_a_period_export_of_a_sound_register_verifies_it_to_the_head(demo, pharmacist, make_lot, product_50):
    """A filtered export still checks the whole chain, line 1 to the head, and says so."""
    record_lines(pharmacist, make_lot(units=5), 3)
    head = Movement.objects.filter(establishment=demo["DEMO"]).count()
    text = _statement(_pdf(demo["DEMO"], product=product_50, date_to=timezone.localdate()))
    assert f"Chaîne vérifiée jusqu'à la ligne {head} le" in text


def test_a_stale_stock_cache_is_reported_on_page_one(demo, lot_50):
    """The cached balances are compared with the ledger at the export's head, as register_verify does."""
    StockBalance.objects.filter(lot=lot_50).update(on_hand=1)
    text = _statement(_pdf(demo["DEMO"]))
    assert "Chaîne ROMPUE" in text and "cached stock" in text


def test_late_entries_and_reversals_are_flagged(demo, pharmacist, make_lot):
    """A late entry prints "SAISIE TARDIVE" with its reason; a reversal points both ways."""
    lot = make_lot(units=5)
    late = services.movement_record(
        actor=pharmacist, lot=lot, direction="exit", reason="loss", quantity=1, counterparty="x",
        occurred_at=timezone.now() - dt.timedelta(days=2), late_entry_reason="Panne du réseau au bloc",
    )
    reversal = services.movement_reverse(actor=pharmacist, movement=late, reason="erreur de lot")
    text = " ".join(" ".join(pdf_texts(_pdf(demo["DEMO"]))).split())
    assert "SAISIE TARDIVE" in text and "Panne du réseau au bloc" in text
    assert f"Annulée par la ligne n° {reversal.number}" in text
    assert f"Annule la ligne n° {late.number}" in text


def test_hostile_and_foreign_text_is_printed_as_text(demo, pharmacist, make_lot):
    """HTML, SQL, control characters and non-Latin scripts print as inert text."""
    lot = make_lot(units=5)
    services.movement_record(
        actor=pharmacist, lot=lot, direction="exit", reason="loss", quantity=1,
        counterparty="<script>alert(1)</script> '; DROP TABLE register_movement;-- Ωμέγα Кириллица\x07\x1b[31m 😀",
    )
    data = _pdf(demo["DEMO"])
    text = " ".join(" ".join(pdf_texts(data)).split())
    assert "<script>alert(1)</script>" in text
    assert "DROP TABLE register_movement;--" in text
    assert "Ωμέγα Кириллица" in text
    assert "\x07" not in text and "\x1b" not in text
    assert pdf_order_numbers(data) == _numbers(demo["DEMO"])


def test_a_row_taller_than_a_page_continues_on_the_next(demo, pharmacist, make_lot):
    """A very long reason is split across pages, marked "(suite)", and its number printed once."""
    lot = make_lot(units=5)
    services.movement_record(
        actor=pharmacist, lot=lot, direction="exit", reason="loss", quantity=1, counterparty="x",
        occurred_at=timezone.now() - dt.timedelta(days=2), late_entry_reason="Panne informatique prolongée. " * 150,
    )
    data = _pdf(demo["DEMO"])
    texts = pdf_texts(data)
    assert any("(suite)" in text for text in texts)
    assert pdf_order_numbers(data) == _numbers(demo["DEMO"])


def test_the_monthly_summary_and_line_count_are_printed(demo, pharmacist, make_lot):
    """The last pages give per product and month: opening, entries, exits, closing."""
    record_lines(pharmacist, make_lot(units=7, batch="SUM-1"), 4)  # +7, then +2 -1 +2 -1
    text = " ".join(" ".join(pdf_texts(_pdf(demo["DEMO"]))).split())
    assert "Bilan mensuel par produit" in text
    month = timezone.localdate()
    from register.export.pdf import _month_label

    # 50 mg/5 mL: demo receipt 40 + 7 + 4 - 2 = 49 this month, opening 0.
    assert f"Kétamine 50 mg/5 mL, solution injectable {_month_label(month)} 0 51 2 49 non clôturé" in text
    lines = Movement.objects.filter(establishment=demo["DEMO"]).count()
    assert f"lignes de la période : {lines}" in text


def test_an_empty_period_gives_a_valid_pdf(demo):
    """No line in the period: one page saying so, still with header and page 1 / 1."""
    texts = pdf_texts(_pdf(demo["DEMO"], date_from=dt.date(2018, 1, 1), date_to=dt.date(2018, 1, 31)))
    assert len(texts) == 1
    assert "Aucune ligne dans cette période." in texts[0]
    assert PAGE_NUMBER.search(texts[0]).groups() == ("1", "1")


def test_page_one_renders_to_png_with_pdftoppm(demo, pharmacist, make_lot, tmp_path):
    """pdftoppm (poppler) renders page 1 without error: the file is a PDF a reader accepts."""
    record_lines(pharmacist, make_lot(units=20), 30)
    source = tmp_path / "register.pdf"
    source.write_bytes(_pdf(demo["DEMO"]))
    assert shutil.which("pdftoppm"), "pdftoppm is needed (Debian package poppler-utils)"
    completed = subprocess.run(
        ["pdftoppm", "-r", "100", "-f", "1", "-l", "1", "-png", str(source), str(tmp_path / "page")],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "Error" not in completed.stderr
    png = next(tmp_path.glob("page*.png"))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 20_000  # a page with text, not a blank one
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(png, ARTIFACTS / "register-page-1.png")
