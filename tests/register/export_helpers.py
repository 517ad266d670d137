"""Helpers for the export tests: build a register, read a PDF's text and order numbers back."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from pypdf import PdfReader

from register import services
from register.export.pdf import LINE_COLUMNS, MARGIN
from register.models import Lot, Movement

FIRST_COLUMN = (MARGIN, MARGIN + LINE_COLUMNS[0].width)
PAGE_NUMBER = re.compile(r"Page (\d+) /\s*(\d+)")


def record_lines(actor: Any, lot: Lot, count: int, **extra: Any) -> list[Movement]:
    """``count`` lines alternating receipts and losses of one unit, with names and addresses."""
    lines = []
    for index in range(count):
        if index % 2 == 0:
            lines.append(services.movement_record(
                actor=actor, lot=lot, direction="entry", reason="receipt", quantity=2,
                counterparty="Grossiste répartiteur PharmaDis, 10 rue de l'Industrie, 93200 Saint-Denis", **extra,
            ))
        else:
            lines.append(services.movement_record(
                actor=actor, lot=lot, direction="exit", reason="loss", quantity=1, counterparty="Perte constatée",
                prescriber_name="Dr Jean-Baptiste Poquelin", prescriber_address="12 avenue de l'Opéra\n75001 Paris",
                patient_name="Mme Émilie Dupont", patient_address="3 rue du Faubourg Saint-Honoré, 75008 Paris",
                **extra,
            ))
    return lines


def pdf_reader(data: bytes) -> PdfReader:
    return PdfReader(io.BytesIO(data))


def pdf_texts(data: bytes) -> list[str]:
    return [page.extract_text() for page in pdf_reader(data).pages]


def pdf_order_numbers(data: bytes) -> list[int]:
    """The numbers printed in the first column (n° d'ordre) of every page, in page order."""
    return [number for page in pdf_order_numbers_by_page(data) for number in page]


def pdf_order_numbers_by_page(data: bytes) -> list[list[int]]:
    pages: list[list[int]] = []
    for page in pdf_reader(data).pages:
        found: list[tuple[float, int]] = []

        def visit(text: str, cm: Any, tm: Any, font: Any, size: Any, found: list[tuple[float, int]] = found) -> None:
            # pypdf hands over runs of text on one baseline, positioned at their first piece: a
            # run starting in the first column starts with the order number.
            x, y = tm[4] * cm[0] + cm[4], tm[5] * cm[3] + cm[5]
            words = text.split()
            if FIRST_COLUMN[0] <= x <= FIRST_COLUMN[1] and words and words[0].isdigit():
                found.append((y, int(words[0])))

        page.extract_text(visitor_text=visit)
        pages.append([number for _, number in sorted(found, key=lambda item: -item[0])])
    return pages


def csv_rows(data: bytes) -> list[dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
