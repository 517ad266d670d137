"""SQL and HTML typed into text fields stay text: stored verbatim, escaped on pages, printed in PDFs."""

from __future__ import annotations

from django.test import Client

from register import services
from register.models import Movement
from tests.register.export_helpers import pdf_texts

HOSTILE = "<script>alert('x')</script> Robert'); DROP TABLE register_movement;--"


def test_markup_and_sql_in_a_line_are_kept_escaped_and_printed(pharmacist, inspector, lot_50):
    """The counterparty is stored as typed, HTML-escaped on the web page, and readable in the PDF."""
    line = services.movement_record(actor=pharmacist, lot=lot_50, direction="exit", reason="supplier_return",
                                    quantity=1, counterparty=HOSTILE)
    assert Movement.objects.get(pk=line.pk).counterparty == HOSTILE

    browser = Client()
    browser.force_login(pharmacist)
    page = browser.get(f"/register/{line.pk}/").content.decode()
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page

    web = Client()
    web.force_login(inspector)
    pdf = web.get("/api/v1/register/export.pdf", {"establishment": "DEMO"})
    assert pdf.status_code == 200
    text = " ".join(pdf_texts(b"".join(pdf.streaming_content) if pdf.streaming else pdf.content))
    assert "DROP TABLE" in " ".join(text.split()) and Movement.objects.filter(pk=line.pk).exists()
