"""The destruction record (*procès-verbal de destruction*, arrêté du 12 mars 2013 art. 7) as PDF."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from django.utils import timezone
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

if TYPE_CHECKING:
    from operations.models import DestructionRecord
    from register.models import Movement


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", "<br/>")


def destruction_pv_pdf(*, record: DestructionRecord, movements: list[Movement]) -> bytes:
    """Render the PV: establishment, reference, notice, lots destroyed with their register lines,
    the pharmacist who destroyed and the witness pharmacist, with room for both signatures."""
    establishment = record.establishment
    styles = getSampleStyleSheet()
    buffer = io.BytesIO()

    def header(canvas: object, doc: object) -> None:
        # Every page names the establishment, like every page of the register (R.5132-36).
        canvas.saveState()  # type: ignore[attr-defined]
        canvas.setFont("Helvetica", 8)  # type: ignore[attr-defined]
        canvas.drawString(15 * mm, 287 * mm, f"{establishment.name} — {establishment.address.replace(chr(10), ', ')}")  # type: ignore[attr-defined]
        canvas.drawRightString(195 * mm, 10 * mm, f"{record.reference} — page {doc.page}")  # type: ignore[attr-defined]
        canvas.restoreState()  # type: ignore[attr-defined]

    doc = SimpleDocTemplate(
        buffer, pagesize=A4, title=f"Procès-verbal de destruction {record.reference}",
        author=establishment.name, topMargin=20 * mm, bottomMargin=18 * mm, leftMargin=15 * mm, rightMargin=15 * mm,
    )
    destroyed_at = timezone.localtime(record.destroyed_at)
    story = [
        Paragraph("Procès-verbal de destruction de médicaments stupéfiants", styles["Title"]),
        Paragraph(f"Référence : <b>{_escape(record.reference)}</b>", styles["Normal"]),
        Paragraph(
            f"Établissement : {_escape(establishment.name)} ({_escape(establishment.code)})<br/>"
            f"{_escape(establishment.address)}",
            styles["Normal"],
        ),
        Spacer(1, 4 * mm),
        Paragraph(
            f"Destruction réalisée le {destroyed_at:%d/%m/%Y à %H:%M}, lieu de stockage : "
            f"{_escape(record.location.name)}, méthode : {_escape(record.method)}.",
            styles["Normal"],
        ),
        Paragraph(
            f"Inspecteur avisé : {_escape(record.inspector_name)}, le {record.inspector_notified_on:%d/%m/%Y} "
            "(arrêté du 12 mars 2013, article 7).",
            styles["Normal"],
        ),
        Spacer(1, 4 * mm),
    ]
    rows = [["Produit", "Lot", "Péremption", "Quantité", "N° d’ordre (registre)"]]
    for movement in movements:
        lot = movement.lot
        rows.append([
            Paragraph(_escape(lot.product.name), styles["Normal"]), lot.batch_number,
            f"{lot.expires_on:%d/%m/%Y}", f"{movement.quantity} {lot.product.unit_label}(s)", f"n° {movement.number}",
        ])
    table = Table(rows, colWidths=[66 * mm, 28 * mm, 24 * mm, 26 * mm, 36 * mm], repeatRows=1)
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]))
    story += [table, Spacer(1, 6 * mm)]
    if record.note:
        story += [Paragraph(f"Observations : {_escape(record.note)}", styles["Normal"]), Spacer(1, 4 * mm)]
    signatures = Table(
        [
            ["Le pharmacien ayant procédé à la destruction", "Le pharmacien témoin"],
            [record.performed_by_name, record.witness_name],
            ["Signature :", "Signature :"],
            ["", ""],
        ],
        colWidths=[89 * mm, 89 * mm], rowHeights=[None, None, None, 20 * mm],
    )
    signatures.setStyle(TableStyle([("BOX", (0, 0), (0, -1), 0.5, colors.grey), ("BOX", (1, 0), (1, -1), 0.5, colors.grey)]))
    story += [signatures, Spacer(1, 4 * mm), Paragraph(
        "Document conservé dix ans (CSP R.5132-36). Son empreinte SHA-256 est enregistrée avec lui.", styles["Italic"]
    )]
    doc.build(story, onFirstPage=header, onLaterPages=header)
    return buffer.getvalue()
