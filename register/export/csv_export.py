"""The register as CSV for spreadsheets: semicolon-separated, UTF-8 with a BOM (Excel, French locale).

The same lines as the PDF, streamed: rows are read in chunks and written out in blocks, and the
SHA-256 of the bytes is computed as they go, for the audit event written at the end.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from register.export.lines import DIRECTION_LABELS, REASON_LABELS, ExportScope, clean_text, local

BOM = "\ufeff"
BLOCK_ROWS = 500

HEADER = (
    "numero_ordre",
    "date_operation",
    "date_enregistrement",
    "sens",
    "motif",
    "produit",
    "lot",
    "emplacement",
    "entree_unites",
    "sortie_unites",
    "solde_lot_emplacement",
    "fournisseur_destinataire",
    "prescripteur_nom",
    "prescripteur_adresse",
    "patient_nom",
    "patient_adresse",
    "saisi_par",
    "saisie_tardive",
    "motif_saisie_tardive",
    "annule_ligne",
    "annulee_par_ligne",
    "ligne_liee",
    "note",
    "empreinte_precedente",
    "empreinte",
)

# A cell starting with one of these is taken for a formula by spreadsheet programs: a counterparty
# typed as "=HYPERLINK(...)" must stay text (OWASP "CSV injection"), so it gets a leading quote.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text(value: Any) -> str:
    text = clean_text(value)
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def csv_row(row: dict[str, Any]) -> list[Any]:
    entry = row["direction"] == "entry"
    late = clean_text(row["late_entry_reason"])
    return [
        row["number"],
        local(row["occurred_at"]).isoformat(timespec="seconds"),
        local(row["recorded_at"]).isoformat(timespec="seconds"),
        DIRECTION_LABELS.get(row["direction"], row["direction"]),
        REASON_LABELS.get(row["reason"], _text(row["reason"])),
        _text(row["lot__product__name"]),
        _text(row["lot__batch_number"]),
        _text(row["location__name"]),
        row["quantity"] if entry else "",
        "" if entry else row["quantity"],
        row["balance_after"],
        _text(row["counterparty"]),
        _text(row["prescriber_name"]),
        _text(row["prescriber_address"]),
        _text(row["patient_name"]),
        _text(row["patient_address"]),
        _text(row["recorded_by_name"]),
        "oui" if late else "non",
        _text(late),
        row["reverses__number"] or "",
        row["reversed_by__number"] or "",
        row["paired_with__number"] or "",
        _text(row["note"]),
        row["prev_hash"],
        row["hash"],
    ]


@dataclass
class CsvStream:
    """Iterate to get the encoded blocks; ``lines``, ``sha256`` and ``size`` are final at the end."""

    scope: ExportScope
    progress: Callable[[int], None] | None = None
    lines: int = 0
    size: int = 0
    _hash: Any = field(default_factory=hashlib.sha256)
    on_done: Callable[[CsvStream], None] | None = None

    @property
    def sha256(self) -> str:
        return str(self._hash.hexdigest())

    def _emit(self, buffer: io.StringIO) -> bytes:
        data = buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
        self._hash.update(data)
        self.size += len(data)
        return data

    def __iter__(self) -> Iterator[bytes]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
        buffer.write(BOM)
        writer.writerow(HEADER)
        pending = 0
        for row in self.scope.iter_rows():
            writer.writerow(csv_row(row))
            self.lines += 1
            pending += 1
            if pending == BLOCK_ROWS:
                if self.progress is not None:
                    self.progress(pending)
                pending = 0
                yield self._emit(buffer)
        if self.progress is not None and pending:
            self.progress(pending)
        yield self._emit(buffer)
        if self.on_done is not None:
            self.on_done(self)
