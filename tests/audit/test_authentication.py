"""Token login, throttling, lockout per username+IP, revocation, and the audit of every login."""

from __future__ import annotations

import datetime as dt

import time_machine
from django.utils import timezone
from rest_framework.authtoken.models import Token

from audit.models import AuditEvent
from tests.conftest import PASSWORD

TOKEN = "/api/v1/auth/token/"
REVOKE = "/api/v1/auth/token/revoke/"


def _actions(username: str) -> list[str]:
    events = AuditEvent.objects.filter(actor_username=username, action__startswith="auth.")
    return list(events.order_by("id").values_list("action", flat=True))


def test_a_failed_login_is_audited_exactly_once(login, pharmacist):
    """A wrong password answers 400 invalid_credentials and leaves one auth.login.failed event."""
    response = login("pharmacist", "wrong-password")
    assert response.status_code == 400 and response.json()["code"] == "invalid_credentials"
    event = AuditEvent.objects.get(actor_username="pharmacist", action__startswith="auth.")
    assert event.action == "auth.login.failed" and event.actor is None and event.data == {"via": "token"}
    assert event.ip_address == "127.0.0.1"


def test_a_successful_login_is_audited_exactly_once(login, pharmacist):
    """A right password gives the token and one auth.login.succeeded event for that user."""
    response = login("pharmacist", PASSWORD)
    assert response.status_code == 200 and response.json()["token"] == Token.objects.get(user=pharmacist).key
    assert _actions("pharmacist").count("auth.login.succeeded") == 1
    assert "auth.login.failed" not in _actions("pharmacist")


def test_it_locks_a_username_after_repeated_failures_from_one_ip(login, pharmacist, settings):
    """After N failures, even the right password answers 429 login_locked with Retry-After."""
    settings.LOGIN_LOCKOUT = {"FAILURES": 3, "MINUTES": 10}
    for _ in range(3):
        assert login("pharmacist", "wrong-password").status_code == 400
    locked = login("pharmacist", PASSWORD)
    assert locked.status_code == 429
    assert locked.json()["code"] == "login_locked" and set(locked.json()) == {"code", "detail"}
    assert 0 < int(locked["Retry-After"]) <= 600
    assert not Token.objects.filter(user=pharmacist).exists()
    assert _actions("pharmacist") == ["auth.login.failed"] * 3 + ["auth.login.locked"]


def test_the_lockout_is_per_ip_and_ends_after_the_window(login, pharmacist, settings):
    """Another IP may still log in; after the window the locked IP may too."""
    settings.LOGIN_LOCKOUT = {"FAILURES": 2, "MINUTES": 10}
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        login("pharmacist", "bad-1")
        login("pharmacist", "bad-2")
        assert login("pharmacist", PASSWORD).status_code == 429
        assert login("pharmacist", PASSWORD, REMOTE_ADDR="10.0.0.9").status_code == 200
    with time_machine.travel(start + dt.timedelta(minutes=10, seconds=1), tick=False):
        assert login("pharmacist", PASSWORD).status_code == 200


def test_a_success_resets_the_failure_count(login, pharmacist, settings):
    """Failures before a successful login do not count towards the next lockout."""
    settings.LOGIN_LOCKOUT = {"FAILURES": 2, "MINUTES": 10}
    login("pharmacist", "bad-1")
    assert login("pharmacist", PASSWORD).status_code == 200
    login("pharmacist", "bad-2")
    assert login("pharmacist", PASSWORD).status_code == 200


def test_the_token_endpoint_is_rate_limited_per_ip(login, demo, settings):
    """Beyond LOGIN_THROTTLE_RATE, 429 throttled; X-Forwarded-For does not escape it."""
    settings.LOGIN_THROTTLE_RATE = "3/minute"
    statuses = [login(f"user{i}", "x", HTTP_X_FORWARDED_FOR=f"10.1.1.{i}").status_code for i in range(4)]
    assert statuses == [400, 400, 400, 429]
    throttled = login("pharmacist", PASSWORD)
    assert throttled.status_code == 429 and throttled.json()["code"] == "throttled" and throttled["Retry-After"]


def test_the_rate_limit_counts_in_the_database_shared_by_all_workers(login, demo, settings):
    """The throttle's history is a row of the database cache, not a worker's memory: every gunicorn
    worker (and every server) reads the same count for a client IP."""
    from django.db import connection

    settings.LOGIN_THROTTLE_RATE = "2/minute"
    login("nobody", "x")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM django_cache WHERE cache_key LIKE %s", ["%throttle_login_%"])
        assert cursor.fetchone()[0] == 1
    login("nobody", "x")
    assert login("nobody", "x").status_code == 429


def test_an_inactive_user_cannot_get_a_token(login, pharmacist):
    """A deactivated account answers invalid_credentials, audited as a failure."""
    pharmacist.is_active = False
    pharmacist.save()
    assert login("pharmacist", PASSWORD).status_code == 400
    assert _actions("pharmacist") == ["auth.login.failed"]


def test_a_revoked_token_stops_working(login, client, pharmacist):
    """POST /auth/token/revoke/ deletes the token (204, audited); the token then gets 401."""
    key = login("pharmacist", PASSWORD).json()["token"]
    auth = {"HTTP_AUTHORIZATION": f"Token {key}"}
    assert client.get("/api/v1/products/", **auth).status_code == 200
    assert client.post(REVOKE, **auth).status_code == 204
    assert not Token.objects.filter(user=pharmacist).exists()
    assert client.get("/api/v1/products/", **auth).status_code == 401
    event = AuditEvent.objects.get(action="auth.token.revoked")
    assert event.actor == pharmacist and event.data == {"deleted": True}


def test_web_logins_and_logouts_are_audited(client, pharmacist):
    """The web login (django.contrib.auth.login) and logout each leave one event."""
    assert client.login(username="pharmacist", password=PASSWORD)
    client.logout()
    assert _actions("pharmacist") == ["auth.login.succeeded", "auth.logout"]
    assert AuditEvent.objects.get(action="auth.logout").actor == pharmacist


def test_a_failed_web_login_is_audited_and_locks_out_too(client, pharmacist, settings):
    """Failures on a login page count in the same lockout; the locked attempt is its own action."""
    settings.LOGIN_LOCKOUT = {"FAILURES": 2, "MINUTES": 10}
    for _ in range(2):
        response = client.post("/admin/login/", {"username": "pharmacist", "password": "nope"})
        assert response.status_code == 200  # the form again, with its error
    events = AuditEvent.objects.filter(actor_username="pharmacist", action__startswith="auth.")
    assert list(events.order_by("id").values_list("action", "data")) == [("auth.login.failed", {"via": "admin"})] * 2
    response = client.post("/admin/login/", {"username": "pharmacist", "password": PASSWORD})
    assert response.status_code == 200
    assert events.latest("id").action == "auth.login.locked"
    assert "_auth_user_id" not in client.session  # the right password did not open a session


def test_the_client_ip_comes_through_trusted_proxies_only(login, pharmacist, settings):
    """X-Forwarded-For is ignored without proxies; with one, its last hop is the client."""
    login("pharmacist", "bad", HTTP_X_FORWARDED_FOR="203.0.113.7")
    settings.TRUSTED_PROXY_COUNT = 1
    login("pharmacist", "bad", HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.7")
    login("pharmacist", "bad", HTTP_X_FORWARDED_FOR="not-an-ip")
    ips = list(AuditEvent.objects.filter(action="auth.login.failed").order_by("id").values_list("ip_address", flat=True))
    assert ips == ["127.0.0.1", "203.0.113.7", "127.0.0.1"]


def test_parallel_guesses_cannot_outrun_the_lockout(committed_db, demo, settings):
    """Ten wrong passwords at once with a limit of 3: three failures, then seven locked attempts."""
    import threading

    from django.db import connection
    from django.test import Client

    settings.LOGIN_LOCKOUT = {"FAILURES": 3, "MINUTES": 10}
    barrier = threading.Barrier(10)
    statuses: list[int] = []

    def guess(i: int) -> None:
        try:
            barrier.wait()
            response = Client().post(TOKEN, {"username": "pharmacist", "password": f"guess-{i}"},
                                     content_type="application/json")
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [400] * 3 + [429] * 7
    assert _actions("pharmacist") == ["auth.login.failed"] * 3 + ["auth.login.locked"] * 7


def test_a_password_checked_without_a_request_counts_too(pharmacist2, settings):
    """authenticate() without a request (a destruction witness) is audited and locked out alike."""
    from django.contrib.auth import authenticate

    settings.LOGIN_LOCKOUT = {"FAILURES": 2, "MINUTES": 10}
    assert authenticate(username="pharmacist2", password="bad-1") is None
    assert authenticate(username="pharmacist2", password="bad-2") is None
    assert authenticate(username="pharmacist2", password=PASSWORD) is None
    assert _actions("pharmacist2") == ["auth.login.failed", "auth.login.failed", "auth.login.locked"]
    assert AuditEvent.objects.filter(actor_username="pharmacist2", action="auth.login.failed").first().data == {"via": "internal"}
