"""GET /api/v1/audit/events/: scoped, filtered, paginated, newest first; reads of the register audited."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_record
from tests.conftest import PASSWORD

URL = "/api/v1/audit/events/"


def test_it_lists_the_establishment_events_newest_first_paginated(api, pharmacist, demo):
    """The answer is {count, next, previous, results}, newest first, only DEMO's events."""
    body = api(pharmacist).get(URL, {"limit": 5}).json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == AuditEvent.objects.filter(establishment=demo["DEMO"]).count()
    assert body["next"] and body["previous"] is None
    ids = [event["id"] for event in body["results"]]
    assert ids == sorted(ids, reverse=True)
    assert {event["establishment"] for event in body["results"]} == {"DEMO"}
    first = body["results"][0]
    assert {"actor", "role", "action", "occurred_at", "ip_address", "user_agent", "request_id", "data"} <= set(first)


def test_it_never_shows_another_establishment_events(api, outsider, pharmacist, demo):
    """The outsider sees OTHER's events only; DEMO's stay hidden."""
    results = api(outsider).get(URL, {"limit": 500}).json()["results"]
    assert results and {event["establishment"] for event in results} == {"OTHER"}
    demo_ids = set(AuditEvent.objects.filter(establishment=demo["DEMO"]).values_list("id", flat=True))
    assert not demo_ids & {event["id"] for event in results}


def test_login_events_are_visible_to_the_user_establishments_only(client, api, pharmacist, outsider, inspector):
    """A failed login for a DEMO user shows to DEMO's inspector; one for an unknown name to nobody."""
    client.post("/api/v1/auth/token/", {"username": "pharmacist", "password": "wrong"}, content_type="application/json")
    client.post("/api/v1/auth/token/", {"username": "nobody-here", "password": "wrong"}, content_type="application/json")
    client.post("/api/v1/auth/token/", {"username": "outsider", "password": PASSWORD}, content_type="application/json")
    seen = api(inspector).get(URL, {"action": "auth.*", "limit": 100}).json()["results"]
    assert [(e["action"], e["actor"]) for e in seen] == [("auth.login.failed", "pharmacist")]
    other = api(outsider).get(URL, {"action": "auth.*"}).json()["results"]
    assert [(e["action"], e["actor"]) for e in other] == [("auth.login.succeeded", "outsider")]


def test_it_filters_by_action_actor_object_type_and_dates(api, pharmacist, technician, demo, lot_50):
    """Each filter narrows the list; from/to take a date or a date-time."""
    client = api(pharmacist)
    recorded = client.get(URL, {"action": "register.movement.recorded", "limit": 500}).json()["results"]
    assert recorded and {e["action"] for e in recorded} == {"register.movement.recorded"}
    with_prefix = client.get(URL, {"action": "register.*", "limit": 500}).json()["count"]
    assert with_prefix > len(recorded)
    audit_record(action="register.test.marker", actor=technician, establishment=demo["DEMO"], obj=lot_50)
    by_actor = client.get(URL, {"actor": "technician"}).json()["results"]
    assert [e["action"] for e in by_actor] == ["register.test.marker"]
    by_type = client.get(URL, {"object_type": "register.Lot", "limit": 500}).json()["results"]
    assert by_type and {e["object_type"] for e in by_type} == {"register.Lot"}
    today = timezone.localdate()
    assert client.get(URL, {"from": today.isoformat()}).json()["count"] == with_prefix + 1
    assert client.get(URL, {"to": (today - dt.timedelta(days=1)).isoformat()}).json()["count"] == 0
    later = (timezone.now() + dt.timedelta(minutes=5)).isoformat()
    assert client.get(URL, {"from": later}).json()["count"] == 0


def test_a_malformed_date_filter_is_a_400(api, inspector):
    """from=yesterday is bad input in the error format, not a 500."""
    response = api(inspector).get(URL, {"from": "yesterday"})
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error" and "from" in response.json()["fields"]


def test_reading_the_register_lines_is_audited_once_per_read(api, inspector, demo):
    """A movement list read records who saw which lines; a detail read names the line."""
    client = api(inspector)
    before = AuditEvent.objects.count()
    lines = client.get("/api/v1/movements/", {"limit": 2}).json()["results"]
    viewed = AuditEvent.objects.filter(action="register.movements.viewed")
    assert AuditEvent.objects.count() == before + 1 and viewed.count() == 1
    event = viewed.get()
    assert event.actor == inspector and event.establishment == demo["DEMO"] and event.role == "inspector"
    assert event.data["ids"] == [line["id"] for line in lines] and event.data["query"] == {"limit": "2"}
    client.get(f"/api/v1/movements/{lines[0]['id']}/")
    detail = AuditEvent.objects.get(action="register.movement.viewed")
    assert detail.object_type == "register.Movement" and detail.object_id == str(lines[0]["id"])


def test_a_refused_read_is_not_audited_as_a_read(api, outsider, lot_50):
    """The outsider asking for a DEMO line gets 404 and no 'viewed' event."""
    from register.models import Movement

    line = Movement.objects.filter(lot=lot_50).first()
    assert api(outsider).get(f"/api/v1/movements/{line.pk}/").status_code == 404
    assert not AuditEvent.objects.filter(action="register.movement.viewed").exists()


def test_the_admin_shows_events_read_only(client, demo):
    """A superuser lists the events in the admin; the change form has no save and delete is refused."""
    from django.contrib.auth import get_user_model

    admin = get_user_model().objects.create_superuser("root-test", "root@example.invalid", "root-pass-2026")
    client.force_login(admin)
    assert client.get("/admin/audit/auditevent/").status_code == 200
    event = AuditEvent.objects.filter(establishment=demo["DEMO"]).first()
    assert client.get(f"/admin/audit/auditevent/{event.pk}/change/").status_code == 200
    assert client.post(f"/admin/audit/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_reading_the_register_web_pages_is_audited(client, inspector, demo):
    """The register page and a line's page leave one 'viewed' event each, like the API."""
    client.force_login(inspector)
    assert client.get("/register/").status_code == 200
    listed = AuditEvent.objects.get(action="register.movements.viewed")
    assert listed.establishment == demo["DEMO"] and listed.data["query"] == {"via": "web"} and listed.data["ids"]
    line_id = listed.data["ids"][0]
    assert client.get(f"/register/{line_id}/").status_code == 200
    viewed = AuditEvent.objects.get(action="register.movement.viewed")
    assert viewed.object_id == str(line_id) and viewed.actor == inspector


def test_reading_patient_data_is_audited(api, prescriber, demo, lot_50):
    """Patient list, patient, exposure, prescription reads each leave their 'viewed' event."""
    import datetime as dt
    from decimal import Decimal

    from prescriptions import services as presc

    patient = presc.patient_create(actor=prescriber, establishment=demo["DEMO"], last_name="Roux", first_name="Léa",
                                   sex="F", birth_date=dt.date(1990, 1, 1), address="2 rue Neuve, 75003 Paris")
    issued = presc.prescription_issue(
        actor=prescriber, patient=patient, secure_form_lot="SF-READ-1", declared_lines=1,
        issued_on=dt.date.today(), duration_days=7,
        lines=[presc.LineInput(product=lot_50.product, kind="bolus", dose_mg=Decimal(50), doses_per_day=1)],
    )
    client = api(prescriber)
    for url in ("/api/v1/patients/", f"/api/v1/patients/{patient.pk}/", f"/api/v1/patients/{patient.pk}/exposure/",
                "/api/v1/prescriptions/", f"/api/v1/prescriptions/{issued.prescription.pk}/"):
        assert client.get(url).status_code == 200, url
    events = AuditEvent.objects.filter(action__endswith="viewed", actor=prescriber).order_by("id")
    assert [e.action for e in events] == [
        "prescriptions.patients.viewed", "prescriptions.patient.viewed", "prescriptions.patient.exposure_viewed",
        "prescriptions.prescriptions.viewed", "prescriptions.prescription.viewed",
    ]
    assert {e.establishment for e in events} == {demo["DEMO"]}
