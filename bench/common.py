"""Shared plumbing of the bench scripts: a scratch database, gunicorn, a keep-alive JSON client.

Everything talks to 127.0.0.1 only. The scripts are not tests: they print figures for README.md.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
PASSWORD = "bench-pass-2026"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def database_url(name: str) -> str:
    return f"{PG_SERVER}/{name}"


def django_env(db: str, settings: str = "config.settings") -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url(db),
        DJANGO_SETTINGS_MODULE=settings,
        # Production-like: DEBUG off (no query log kept in memory, no browsable API).
        DJANGO_DEBUG="0",
        LOG_LEVEL="ERROR",
        PYTHONPATH=str(ROOT),
    )
    return env


def scratch_database(db: str, *, settings: str = "config.settings") -> None:
    """Drop and recreate ``db`` on the machine's server, migrate it and load the demo data."""
    if not db.startswith("bench"):
        raise SystemExit(f"refusing to drop {db!r}: scratch databases are named bench*")
    with psycopg.connect(database_url("postgres"), autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [db],
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{db}"')
        conn.execute(f'CREATE DATABASE "{db}"')
    env = django_env(db, settings)
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    subprocess.run(
        [PYTHON, "manage.py", "demo", "--password", PASSWORD], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL
    )


def manage(db: str, *args: str, settings: str = "config.settings") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=django_env(db, settings), capture_output=True, text=True
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """One gunicorn master (and its workers) in its own process group."""

    db: str
    settings: str = "config.settings"
    workers: int = 2
    threads: int = 4
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def command(self) -> list[str]:
        return [
            GUNICORN, "config.wsgi:application",
            "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(self.workers),
            "--worker-class", "gthread", "--threads", str(self.threads),
            "--keep-alive", "30",
            "--log-level", "warning",
        ]

    def start(self) -> Server:
        # The server's own log (4xx warnings of django.request, tracebacks) goes to a file, not the report.
        self.log_path = Path(f"/tmp/bench-gunicorn-{self.db}-{self.port}.log")
        with self.log_path.open("ab") as log_file:
            self.process = subprocess.Popen(
                self.command, cwd=ROOT, env=django_env(self.db, self.settings), start_new_session=True,
                stdout=log_file, stderr=log_file,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/api/v1/products/")
                conn.getresponse().read()
                conn.close()
                return self
            except OSError:
                if self.process.poll() is not None:
                    raise SystemExit(f"gunicorn exited with {self.process.returncode}") from None
                time.sleep(0.2)
        raise SystemExit("gunicorn did not answer within 30 s")

    def pids(self) -> list[int]:
        """The master and its workers (for kill -9)."""
        assert self.process is not None
        out = subprocess.run(["pgrep", "-g", str(self.process.pid)], capture_output=True, text=True).stdout
        return [int(pid) for pid in out.split()]

    def kill9(self) -> list[int]:
        """SIGKILL the master and every worker at once, as a crash would."""
        assert self.process is not None
        pids = self.pids()
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        return pids

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


class Client:
    """A keep-alive HTTP/1.1 JSON client (one per thread), reconnecting when the server closes."""

    def __init__(self, port: int, token: str | None = None, timeout: float = 30.0) -> None:
        self.port = port
        self.timeout = timeout
        self.headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token:
            self.headers["Authorization"] = f"Token {token}"
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        payload = json.dumps(body) if body is not None else None
        try:
            self.conn.request(method, path, body=payload, headers=self.headers)
            response = self.conn.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException):
            # A dead keep-alive connection: reopen once. A second failure is reported to the caller.
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            raise
        if response.getheader("Connection", "").lower() == "close":
            self.conn.close()
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = raw[:200]
        return response.status, data

    def close(self) -> None:
        self.conn.close()


def token_for(port: int, username: str) -> str:
    status, body = Client(port).request("POST", "/api/v1/auth/token/", {"username": username, "password": PASSWORD})
    if status != 200:
        raise SystemExit(f"login of {username} failed: {status} {body}")
    return str(body["token"])


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


@dataclass
class Stats:
    """Latencies (ms) and status counts, shared by the client threads."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, label: str, status: int | str, ms: float) -> None:
        with self.lock:
            self.latencies.append(ms)
            self.statuses[f"{label} {status}"] += 1

    def summary(self) -> str:
        lat = self.latencies
        return f"p50 {percentile(lat, 50):.1f} ms, p95 {percentile(lat, 95):.1f} ms, p99 {percentile(lat, 99):.1f} ms"


def run_threads(count: int, target: Any, *args: Any) -> None:
    threads = [threading.Thread(target=target, args=(index, *args), daemon=True) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
