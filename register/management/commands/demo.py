from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from register.demo import USERS, demo_load
from register.demo_scenario import demo_scenario_load


class Command(BaseCommand):
    help = "Load the demo establishments, users, products and stocked lots (idempotent)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--password", required=True, help="Password given to every demo user.")

    def handle(self, *args: Any, password: str, **options: Any) -> None:
        demo_load(password=password)
        demo_scenario_load()
        self.stdout.write(self.style.SUCCESS("Demo data loaded. Logins (password as given):"))
        for username, role, establishment, *_ in USERS:
            self.stdout.write(f"  {username:<12} {role.value:<11} {establishment}")
