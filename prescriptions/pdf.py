"""The printable secure prescription: what the form must show (R.5132-3, R.5132-5, R.5132-29)."""

from __future__ import annotations

import io

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from prescriptions.models import SecurePrescription
from prescriptions.words import duration_words, number_words, strength_words


def _wrap(text: str, width: int = 95) -> list[str]:
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        current = ""
        for word in paragraph.split():
            if current and len(current) + 1 + len(word) > width:
                lines.append(current)
                current = word
            else:
                current = f"{current} {word}".strip()
        lines.append(current)
    return lines


def prescription_pdf(prescription: SecurePrescription) -> bytes:
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=0)
    canvas.setTitle(f"Ordonnance sécurisée {prescription.pk}")
    _width, height = A4
    y = height - 20 * mm

    def write(text: str, *, size: int = 10, bold: bool = False, gap: float = 5) -> None:
        nonlocal y
        for line in _wrap(text):
            if y < 20 * mm:
                canvas.showPage()
                y = height - 20 * mm
            canvas.setFont("Helvetica-Bold" if bold else "Helvetica", size)
            canvas.drawString(20 * mm, y, line)
            y -= gap * mm

    prescriber, patient, establishment = prescription.prescriber, prescription.patient, prescription.establishment
    write("ORDONNANCE SÉCURISÉE", size=14, bold=True, gap=7)
    write(f"Lot du formulaire sécurisé : {prescription.secure_form_lot}    Ordonnance n° {prescription.pk}")
    write(f"Nombre de lignes déclarées : {prescription.declared_lines} ({number_words(prescription.declared_lines)})")
    if prescription.status == SecurePrescription.Status.CANCELLED:
        write(f"ANNULÉE le {prescription.cancelled_at:%d/%m/%Y} : {prescription.cancel_reason}", bold=True)
    y -= 3 * mm
    write("Prescripteur", bold=True)
    write(f"{prescriber.full_name} — {prescriber.title}")
    write(f"RPPS : {prescriber.rpps}")
    write(prescriber.address.replace("\n", ", "))
    write(f"Établissement : {establishment.name}, {establishment.address.replace(chr(10), ', ')}")
    y -= 3 * mm
    write("Patient", bold=True)
    sex = "féminin" if patient.sex == "F" else "masculin"
    write(f"{patient.full_name} — sexe {sex} — né(e) le {patient.birth_date:%d/%m/%Y}")
    if patient.weight_kg is not None:
        write(f"Poids : {patient.weight_kg} kg")
    write(patient.address.replace("\n", ", "))
    y -= 3 * mm
    write(f"Date : {prescription.issued_on:%d/%m/%Y}    Durée : {prescription.duration_days} jours "
          f"({duration_words(prescription.duration_days)})")
    if prescription.fraction_days:
        write(f"Délivrance fractionnée par périodes de {prescription.fraction_days} jour(s) "
              f"({number_words(prescription.fraction_days)})")
    if prescription.overlap_authorized:
        write("Chevauchement avec une ordonnance précédente expressément autorisé (R.5132-33).")
    y -= 3 * mm
    write("Prescription", bold=True)
    for index, line in enumerate(prescription.lines.all(), start=1):
        product = line.product
        if line.kind == line.Kind.BOLUS:
            figures = f"{line.dose_mg} mg x {line.doses_per_day} / jour"
        else:
            figures = f"{line.rate_mg_per_h} mg/h x {line.hours_per_day} h / jour"
        write(f"{index}. {product.name} — {figures}", bold=True)
        write(f"    {line.words}")
        write(f"    ({strength_words(mg_per_unit=product.mg_per_unit, ml_per_unit=product.ml_per_unit, unit_label=product.unit_label)})")
    y -= 8 * mm
    write("Signature du prescripteur :")
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
