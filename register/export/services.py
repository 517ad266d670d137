"""Exporting the register: write the file, then record who exported what (DOMAIN.md §5).

Every export is an audit event ``register.exported`` with the period, the format, the number of
lines and the SHA-256 of the file handed over, so an inspector's copy can be matched later.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from audit.services import audit_record
from register.closing import closings_of
from register.export.csv_export import CsvStream
from register.export.lines import ExportScope
from register.export.pdf import write_register_pdf


@dataclass(frozen=True)
class ExportResult:
    lines: int
    sha256: str
    size: int


class _HashingWriter:
    """A write-only file that hashes and counts what goes through it."""

    def __init__(self, target: IO[bytes]) -> None:
        self.target = target
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        self.size += len(data)
        return self.target.write(data)

    def flush(self) -> None:
        self.target.flush()


def actor_label(actor: Any, fallback: str = "") -> str:
    if getattr(actor, "is_authenticated", False):
        full = actor.get_full_name() if hasattr(actor, "get_full_name") else ""
        return f"{full} ({actor.get_username()})" if full else str(actor.get_username())
    return fallback


def export_audit(*, actor: Any, actor_username: str = "", scope: ExportScope, fmt: str, result: ExportResult) -> None:
    audit_record(
        action="register.exported",
        actor=actor,
        actor_username=actor_username,
        establishment=scope.establishment,
        data={
            **scope.period_data(),
            "format": fmt,
            "lines": result.lines,
            "sha256": result.sha256,
            "bytes": result.size,
        },
    )


def register_pdf_export(
    *,
    out: IO[bytes],
    scope: ExportScope,
    actor: Any,
    actor_username: str = "",
    progress: Callable[[int], None] | None = None,
) -> ExportResult:
    """Write the PDF register to ``out`` and record the export."""
    writer = _HashingWriter(out)
    closings = list(
        closings_of(scope.establishment, date_from=scope.date_from, date_to=scope.date_to, product=scope.product)
    )
    lines = write_register_pdf(
        writer,  # type: ignore[arg-type]
        scope,
        edited_by=actor_label(actor, actor_username),
        closings=closings,
        progress=progress,
    )
    result = ExportResult(lines=lines, sha256=writer.hash.hexdigest(), size=writer.size)
    export_audit(actor=actor, actor_username=actor_username, scope=scope, fmt="pdf", result=result)
    return result


def register_csv_export(
    *,
    scope: ExportScope,
    actor: Any,
    actor_username: str = "",
    progress: Callable[[int], None] | None = None,
) -> CsvStream:
    """The CSV register as a stream of byte blocks; the export is recorded once fully produced."""

    def done(stream: CsvStream) -> None:
        result = ExportResult(lines=stream.lines, sha256=stream.sha256, size=stream.size)
        export_audit(actor=actor, actor_username=actor_username, scope=scope, fmt="csv", result=result)

    return CsvStream(scope=scope, progress=progress, on_done=done)
