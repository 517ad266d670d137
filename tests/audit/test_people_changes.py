"""Changes to people are kept: roles and memberships as audit events, the rest as history rows."""

from __future__ import annotations

from django.contrib.auth.models import Group

from audit.models import AuditEvent


def test_giving_and_taking_a_role_is_audited_per_establishment(technician, demo):
    """Adding then removing a role leaves one event each, in the person's establishment."""
    group = Group.objects.get(name="pharmacist")
    marker = AuditEvent.objects.latest("id").pk
    technician.groups.add(group)
    technician.groups.add(group)  # already there: nothing changes, nothing recorded
    group.user_set.remove(technician)
    events = AuditEvent.objects.filter(action="auth.user.roles_changed", pk__gt=marker).order_by("id")
    assert [(e.establishment.code, e.data) for e in events] == [
        ("DEMO", {"user": "technician", "added": ["pharmacist"]}),
        ("DEMO", {"user": "technician", "removed": ["pharmacist"]}),
    ]
    assert events[0].actor_username == "system"


def test_joining_and_leaving_an_establishment_is_audited(technician, demo):
    """A membership change is an event of the establishment concerned, clears included."""
    marker = AuditEvent.objects.latest("id").pk
    demo["OTHER"].members.add(technician)
    technician.establishments.clear()
    events = AuditEvent.objects.filter(action="register.establishment.members_changed", pk__gt=marker)
    assert sorted((e.establishment.code, str(e.data)) for e in events) == [
        ("DEMO", "{'removed': ['technician']}"),
        ("OTHER", "{'added': ['technician']}"),
        ("OTHER", "{'removed': ['technician']}"),
    ]


def test_a_person_change_is_kept_in_history_without_the_password(client, pharmacist):
    """Renaming someone adds a history row; a login (last_login) does not; no password is kept."""
    from tests.conftest import PASSWORD

    count = pharmacist.history.count()
    pharmacist.last_name = "Nouveau-Nom"
    pharmacist.save()
    assert pharmacist.history.count() == count + 1
    assert pharmacist.history.first().last_name == "Nouveau-Nom"
    assert not hasattr(pharmacist.history.first(), "password")
    assert client.login(username="pharmacist", password=PASSWORD)
    assert pharmacist.history.count() == count + 1
