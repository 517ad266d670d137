from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from register.models import Establishment
from register.selectors import register_verify


class Command(BaseCommand):
    help = "Recompute every register's hash chain and balances; exit 1 naming the first broken line."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--establishment", help="Establishment code (default: all).")

    def handle(self, *args: Any, establishment: str | None = None, **options: Any) -> None:
        establishments = Establishment.objects.order_by("code")
        if establishment:
            establishments = establishments.filter(code=establishment)
            if not establishments.exists():
                raise CommandError(f"No establishment with code {establishment!r}.")
        broken = False
        for item in establishments:
            result = register_verify(item)
            if result.ok:
                self.stdout.write(f"{item.code}: OK, {result.lines} lines, head {result.head_hash}")
            else:
                broken = True
                self.stdout.write(f"{item.code}: BROKEN at line {result.first_broken}: {result.problem}")
        if broken:
            raise SystemExit(1)
