"""GET /register/export.pdf and .csv: roles, scoping, filters, bad input, audit, the command."""

from __future__ import annotations

import datetime as dt
import hashlib
import io

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.utils import timezone

from audit.models import AuditEvent
from register import services
from register.models import Movement
from tests.register.export_helpers import csv_rows, pdf_order_numbers, pdf_texts, record_lines

PATHS = ["/api/v1/register/export.pdf", "/api/v1/register/export.csv"]


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


def _numbers(establishment, **filters) -> list[int]:
    queryset = Movement.objects.filter(establishment=establishment, **filters).order_by("number")
    return list(queryset.values_list("number", flat=True))


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    ("persona", "expected"),
    [("pharmacist", 200), ("inspector", 200), ("technician", 403), ("prescriber", 403), ("nurse", 403)],
)
def test_export_roles(request, api, path, persona, expected):
    """Pharmacists and inspectors export; technicians, prescribers and nurses are refused."""
    response = api(request.getfixturevalue(persona)).get(path)
    assert response.status_code == expected
    if expected == 403:
        assert response.json()["code"] == "permission_denied"


@pytest.mark.parametrize("path", PATHS)
def test_an_outsider_gets_404_for_another_establishment(api, outsider, path):
    """A pharmacist of OTHER asking for DEMO's register gets 404, as for any foreign object."""
    response = api(outsider).get(path, {"establishment": "DEMO"})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("path", PATHS)
def test_anonymous_is_refused(api, demo, path):
    """No credentials, no register."""
    assert api(None).get(path).status_code == 401


def test_pdf_answer_is_a_pdf_with_the_register_and_is_audited(api, inspector, demo):
    """200 application/pdf whatever the Accept header; the audit event carries the file's hash."""
    response = api(inspector).get(PATHS[0], HTTP_ACCEPT="application/pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert "registre-DEMO-" in response["Content-Disposition"]
    data = _body(response)
    assert data.startswith(b"%PDF")
    assert pdf_order_numbers(data) == _numbers(demo["DEMO"])
    event = AuditEvent.objects.filter(action="register.exported").latest("id")
    assert event.actor_username == "inspector" and event.establishment == demo["DEMO"]
    assert event.data["format"] == "pdf"
    assert event.data["sha256"] == hashlib.sha256(data).hexdigest() == response["X-Register-SHA256"]
    assert event.data["lines"] == len(_numbers(demo["DEMO"]))


def test_csv_has_the_same_lines_as_the_pdf(api, pharmacist, demo, make_lot):
    """Semicolons, UTF-8 with BOM, one header row, the same order numbers as the PDF."""
    record_lines(pharmacist, make_lot(units=10), 12)
    csv_response = api(pharmacist).get(PATHS[1])
    assert csv_response.status_code == 200
    assert csv_response["Content-Type"].startswith("text/csv")
    data = _body(csv_response)
    rows = csv_rows(data)
    assert data.decode("utf-8-sig").splitlines()[0].startswith("numero_ordre;date_operation;")
    pdf = _body(api(pharmacist).get(PATHS[0]))
    assert [int(row["numero_ordre"]) for row in rows] == pdf_order_numbers(pdf) == _numbers(demo["DEMO"])
    exit_row = next(row for row in rows if row["motif"] == "Perte")
    assert exit_row["prescripteur_nom"] == "Dr Jean-Baptiste Poquelin"
    assert exit_row["patient_adresse"] == "3 rue du Faubourg Saint-Honoré, 75008 Paris"
    assert exit_row["sortie_unites"] == "1" and exit_row["entree_unites"] == ""
    event = AuditEvent.objects.filter(action="register.exported", data__format="csv").latest("id")
    assert event.data["sha256"] == hashlib.sha256(data).hexdigest()
    assert event.data["lines"] == len(rows)


def test_csv_flags_late_entries_and_keeps_formulas_inert(api, pharmacist, lot_50):
    """A late entry says "oui" with its reason; a cell typed as a formula starts with a quote."""
    services.movement_record(
        actor=pharmacist, lot=lot_50, direction="exit", reason="loss", quantity=1,
        counterparty='=HYPERLINK("http://x.invalid","clic")', occurred_at=timezone.now() - dt.timedelta(days=2),
        late_entry_reason="Saisie différée; panne\nréseau",
    )
    rows = csv_rows(_body(api(pharmacist).get(PATHS[1])))
    late = rows[-1]
    assert late["saisie_tardive"] == "oui"
    assert late["motif_saisie_tardive"] == "Saisie différée; panne\nréseau"
    assert late["fournisseur_destinataire"] == "'=HYPERLINK(\"http://x.invalid\",\"clic\")"
    assert {row["saisie_tardive"] for row in rows[:-1]} == {"non"}


@pytest.mark.parametrize("path", PATHS)
def test_filters_from_to_and_product(api, inspector, pharmacist, demo, make_lot, product_50, path):
    """from/to select operation dates; product selects one presentation."""
    lot = make_lot(units=10)
    with time_machine.travel(timezone.now() + dt.timedelta(days=5)):
        record_lines(pharmacist, lot, 3)
        later = timezone.localdate()
    client = api(inspector)
    period = _body(client.get(path, {"from": later.isoformat(), "to": later.isoformat()}))
    by_product = _body(client.get(path, {"product": product_50.pk, "to": (later - dt.timedelta(days=1)).isoformat()}))
    if path.endswith(".pdf"):
        got_period, got_product = pdf_order_numbers(period), pdf_order_numbers(by_product)
    else:
        got_period = [int(row["numero_ordre"]) for row in csv_rows(period)]
        got_product = [int(row["numero_ordre"]) for row in csv_rows(by_product)]
    expected_period = [line.number for line in Movement.objects.filter(lot=lot).order_by("number")][1:]
    assert got_period == expected_period
    assert got_product == _numbers(demo["DEMO"], lot__product=product_50, occurred_at__lt=timezone.now() + dt.timedelta(days=1))


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    "params",
    [{"from": "2026-13-01"}, {"to": "yesterday"}, {"from": "2026-02-01", "to": "2026-01-01"},
     {"product": "abc"}, {"product": "999999999"}],
)
def test_bad_filters_are_a_400_in_the_error_format(api, inspector, path, params):
    """Malformed dates, a reversed period or an unknown product: 400 validation_error."""
    response = api(inspector).get(path, params)
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


@pytest.mark.parametrize("path", PATHS)
def test_extreme_dates_are_accepted(api, inspector, demo, path):
    """Year 0001 to year 9999 is a valid (if generous) period: every line, no 500."""
    response = api(inspector).get(path, {"from": "0001-01-01", "to": "9999-12-31"})
    assert response.status_code == 200
    data = _body(response)
    numbers = pdf_order_numbers(data) if path.endswith(".pdf") else [int(r["numero_ordre"]) for r in csv_rows(data)]
    assert numbers == _numbers(demo["DEMO"])


def test_export_register_command_writes_pdf_and_csv_and_audits(demo, tmp_path):
    """manage.py export_register writes the file, prints its hash and leaves an audit event."""
    for fmt in ("pdf", "csv"):
        target = tmp_path / f"register.{fmt}"
        out = io.StringIO()
        call_command("export_register", "--establishment", "DEMO", "--format", fmt, "-o", str(target), stdout=out)
        data = target.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        assert digest in out.getvalue()
        event = AuditEvent.objects.filter(action="register.exported").latest("id")
        assert event.data["format"] == fmt and event.data["sha256"] == digest
        assert event.actor is None and event.actor_username.startswith("manage.py export_register")
    assert "CHU Démo" in pdf_texts((tmp_path / "register.pdf").read_bytes())[0]


def test_export_register_command_refuses_an_unknown_establishment(demo, tmp_path):
    """An unknown code is an error, no file."""
    with pytest.raises(CommandError):
        call_command("export_register", "--establishment", "NOPE", "--format", "pdf", "-o", str(tmp_path / "x.pdf"))
    assert not (tmp_path / "x.pdf").exists()


@pytest.mark.parametrize("path", PATHS)
def test_an_out_of_range_product_id_is_a_400(api, inspector, path):
    """A product id beyond what the database stores is bad input, not a 500."""
    response = api(inspector).get(path, {"product": "99999999999999999999999"})
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_export_register_command_shows_a_progress_bar_on_a_terminal(demo, tmp_path, capsys):
    """On a terminal the command draws a tqdm bar counting every exported line."""
    call_command("export_register", "--establishment", "DEMO", "--format", "csv", "-o", str(tmp_path / "r.csv"),
                 stdout=_Terminal())
    lines = Movement.objects.filter(establishment=demo["DEMO"]).count()
    assert f"{lines}/{lines}" in capsys.readouterr().err
