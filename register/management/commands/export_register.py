"""``manage.py export_register --establishment CODE --format pdf|csv [--from D] [--to D] -o FILE`` (API.md)."""

from __future__ import annotations

import datetime as dt
import getpass
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from register.export.lines import ExportScope
from register.export.services import register_csv_export, register_pdf_export
from register.models import Establishment, Product


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as error:
        raise CommandError(f"{value!r} is not a date (YYYY-MM-DD).") from error


class Command(BaseCommand):
    help = "Export an establishment's register (the legal printout) as PDF or CSV; the export is audited."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--establishment", required=True, help="Establishment code.")
        parser.add_argument("--format", required=True, choices=["pdf", "csv"])
        parser.add_argument("--from", dest="date_from", type=_date, help="First day (YYYY-MM-DD).")
        parser.add_argument("--to", dest="date_to", type=_date, help="Last day, included (YYYY-MM-DD).")
        parser.add_argument("--product", type=int, help="Only this product id.")
        parser.add_argument("-o", "--output", required=True, help="File to write.")

    def handle(self, *args: Any, **options: Any) -> None:
        establishment = Establishment.objects.filter(code=options["establishment"]).first()
        if establishment is None:
            raise CommandError(f"No establishment with code {options['establishment']!r}.")
        product = None
        if options["product"] is not None:
            product = Product.objects.filter(pk=options["product"]).first()
            if product is None:
                raise CommandError(f"No product with id {options['product']}.")
        if options["date_from"] and options["date_to"] and options["date_from"] > options["date_to"]:
            raise CommandError("--from is after --to.")
        scope = ExportScope.snapshot(
            establishment, date_from=options["date_from"], date_to=options["date_to"], product=product
        )
        # Who ran it: a command has no logged-in user, the audit event names the system account.
        operator = f"manage.py export_register ({getpass.getuser()})"
        bar = None
        if self.stdout.isatty():
            bar = tqdm(total=scope.count(), unit="lines", desc=f"{establishment.code} {options['format']}")
        progress = bar.update if bar is not None else None
        try:
            with open(options["output"], "wb") as out:
                if options["format"] == "pdf":
                    result = register_pdf_export(out=out, scope=scope, actor=None, actor_username=operator, progress=progress)
                    lines, digest = result.lines, result.sha256
                else:
                    stream = register_csv_export(scope=scope, actor=None, actor_username=operator, progress=progress)
                    for block in stream:
                        out.write(block)
                    lines, digest = stream.lines, stream.sha256
        finally:
            if bar is not None:
                bar.close()
        self.stdout.write(f"{options['output']}: {lines} lines, sha256 {digest}")
