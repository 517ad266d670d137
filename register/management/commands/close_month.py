"""``manage.py close_month --establishment CODE --month YYYY-MM [--user USERNAME]``: freeze a month's balance."""

from __future__ import annotations

import getpass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from config.errors import DomainError
from register.closing import month_close
from register.closing_api import parse_month
from register.models import Establishment


class Command(BaseCommand):
    help = "Close a past month of an establishment's register: per product, opening + entries - exits = closing."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--establishment", required=True, help="Establishment code.")
        parser.add_argument("--month", required=True, help="YYYY-MM, a month that is over.")
        parser.add_argument("--user", help="The pharmacist closing it (recorded as closed_by).")

    def handle(self, *args: Any, **options: Any) -> None:
        establishment = Establishment.objects.filter(code=options["establishment"]).first()
        if establishment is None:
            raise CommandError(f"No establishment with code {options['establishment']!r}.")
        actor = None
        if options["user"]:
            actor = get_user_model().objects.filter(username=options["user"], establishments=establishment).first()
            if actor is None:
                raise CommandError(f"No user {options['user']!r} in {establishment.code}.")
        try:
            rows = month_close(
                actor=actor,
                establishment=establishment,
                month=parse_month(options["month"]),
                actor_name=f"manage.py close_month ({getpass.getuser()})",
            )
        except DomainError as error:
            raise CommandError(f"{error.code}: {error.detail}") from error
        for row in rows:
            self.stdout.write(
                f"{row.month:%Y-%m} {row.product.name}: {row.opening} + {row.entries} - {row.exits} = {row.closing}"
            )
        self.stdout.write(f"Closed at register line {rows[0].head_number}, head {rows[0].head_hash}")
