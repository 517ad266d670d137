"""Shared fixtures: the demo establishments, one persona per role, API clients, stocked lots."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.db.models.signals import post_migrate
from rest_framework.test import APIClient

from register.demo import demo_load
from register.models import Establishment, Lot, Movement, Product

PASSWORD = "test-pass-2026"


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings: Any) -> None:
    # PBKDF2 with production rounds costs ~0.3 s per demo user: tests need no brute-force resistance.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def demo(db: Any) -> dict[str, Any]:
    """The demo data set (API.md), loaded inside the test's transaction."""
    demo_load(password=PASSWORD)
    return {
        "DEMO": Establishment.objects.get(code="DEMO"),
        "OTHER": Establishment.objects.get(code="OTHER"),
    }


def _user(username: str) -> Any:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username=username)


@pytest.fixture
def pharmacist(demo: Any) -> Any:
    return _user("pharmacist")


@pytest.fixture
def pharmacist2(demo: Any) -> Any:
    return _user("pharmacist2")


@pytest.fixture
def technician(demo: Any) -> Any:
    return _user("technician")


@pytest.fixture
def prescriber(demo: Any) -> Any:
    return _user("prescriber")


@pytest.fixture
def inspector(demo: Any) -> Any:
    return _user("inspector")


@pytest.fixture
def nurse(demo: Any) -> Any:
    return _user("nurse")


@pytest.fixture
def outsider(demo: Any) -> Any:
    return _user("outsider")


def client_for(user: Any | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user=user)
    return client


@pytest.fixture
def api() -> Any:
    """``api(user)`` -> an APIClient authenticated as that user (None: anonymous)."""
    return client_for


@pytest.fixture
def product_50(db: Any) -> Product:
    return Product.objects.get(name="Kétamine 50 mg/5 mL, solution injectable")


@pytest.fixture
def lot_50(demo: Any, product_50: Product) -> Lot:
    """The DEMO lot of 50 mg/5 mL ampoules, holding 40 units after the demo receipt."""
    return Lot.objects.get(establishment=demo["DEMO"], product=product_50)


@pytest.fixture
def make_lot(demo: Any) -> Any:
    from register import services

    def make(*, establishment: Establishment | None = None, product: Product | None = None, units: int = 0,
             batch: str = "TEST-1", actor: Any = None) -> Lot:
        establishment = establishment or demo["DEMO"]
        actor = actor or _user("pharmacist" if establishment.code == "DEMO" else "outsider")
        product = product or Product.objects.get(name="Kétamine 50 mg/5 mL, solution injectable")
        lot = services.lot_create(actor=actor, establishment=establishment, product=product, batch_number=batch,
                                  expires_on=dt.date.today() + dt.timedelta(days=365))
        if units:
            services.movement_record(actor=actor, lot=lot, direction=Movement.Direction.ENTRY,
                                     reason=Movement.Reason.RECEIPT, quantity=units, counterparty="Fournisseur test")
        return lot

    return make


def _restore_trigger_mode(**kwargs: Any) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = DEFAULT")


@pytest.fixture
def committed_db(transactional_db: Any) -> Iterator[None]:
    """A database whose writes really commit (for concurrency tests).

    Django empties the tables with TRUNCATE after such a test; the register's append-only
    triggers refuse that, as they should. For this clean-up only, the test superuser switches
    ordinary triggers off (``session_replication_role = replica``, superuser-only), and
    ``post_migrate`` (sent right after the flush) switches them back on.
    """
    post_migrate.connect(_restore_trigger_mode, dispatch_uid="restore-trigger-mode")
    yield
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")


def tamper_as_superuser(statement: str, params: list[Any] | None = None, table: str = "register_movement") -> None:
    """What an attacker with a superuser prompt could do: switch the trigger off, change a row."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # flush pending FK checks so ALTER is allowed
        cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only")
        cursor.execute(statement, params)
        cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {table}_append_only")
