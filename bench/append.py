"""Append benchmark (issue 2): our fully checked append versus a plain DRF ModelViewSet.create.

Both run through the real HTTP stack, side by side in one run: two gunicorn servers with the
same options against one scratch database on the machine's PostgreSQL server, token auth,
``--clients`` keep-alive client threads posting a fixed number of movements to each, in
alternating rounds so that drift of the shared 2-core machine hits both alike.

    /work/main/.venv/bin/python bench/append.py --requests 3000 --clients 8

Prints both rates, the ratio (ours / plain, goal >= 1.0), p50/p95, and the SQL queries one
request of each side runs (``CaptureQueriesContext``), then checks the register verifies.
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    PYTHON,
    ROOT,
    Client,
    Server,
    Stats,
    django_env,
    log,
    manage,
    percentile,
    run_threads,
    scratch_database,
    token_for,
)

PLAIN_SETTINGS = "bench.settings_plain"
OURS = "/api/v1/movements/"
PLAIN = "/api/v1/plain-movements/"


def body(lot: int, index: int) -> dict[str, Any]:
    return {
        "direction": "entry",
        "reason": "receipt",
        "lot": lot,
        "quantity": 1,
        "counterparty": "Grossiste PharmaDis, 10 rue de l'Industrie, 93200 Saint-Denis",
        "note": f"BL-BENCH-{index}",
    }


def hammer(port: int, path: str, token: str, lot: int, total: int, clients: int) -> tuple[float, Stats]:
    """Post ``total`` movements with ``clients`` threads; return (seconds, stats)."""
    stats = Stats()
    counter = itertools.count()
    counter_lock = threading.Lock()

    def worker(index: int) -> None:
        client = Client(port, token)
        while True:
            with counter_lock:
                n = next(counter)
            if n >= total:
                break
            started = time.perf_counter()
            try:
                status, _ = client.request("POST", path, body(lot, n))
            except OSError as exc:
                status = type(exc).__name__
            stats.add("POST", status, (time.perf_counter() - started) * 1000)
        client.close()

    started = time.perf_counter()
    run_threads(clients, worker)
    return time.perf_counter() - started, stats


def count_queries(lot: int) -> None:
    """In-process: the SQL one POST of each side runs (same settings, same database)."""
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    token = Token.objects.get(user__username="pharmacist").key
    client = APIClient(HTTP_AUTHORIZATION=f"Token {token}")
    for label, path in (("ours", OURS), ("plain", PLAIN)):
        client.post(path, body(lot, 0), format="json")  # warm caches (content types, etc.)
        with CaptureQueriesContext(connection) as queries:
            response = client.post(path, body(lot, 1), format="json")
        print(f"  {label}: HTTP {response.status_code}, {len(queries)} SQL statements")
        for query in queries.captured_queries:
            print(f"    {query['time']}s  {query['sql'][:150]}")
    # Python's share: the same POSTs through Django's test client (no HTTP server, one client),
    # wall and CPU time per append, two alternating rounds of 300.
    print("Per append in-process (Django test client, one client, 2 alternating rounds of 300):")
    for round_index in range(2):
        for label, path in (("ours", OURS), ("plain", PLAIN)):
            wall, cpu = time.perf_counter(), time.process_time()
            for index in range(300):
                client.post(path, body(lot, index), format="json")
            print(f"  round {round_index + 1} {label:<5}: {(time.perf_counter() - wall) / 0.3:5.2f} ms wall, "
                  f"{(time.process_time() - cpu) / 0.3:5.2f} ms CPU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000, help="appends per side (default 3000)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent client threads (default 8)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per side (default 3)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per server (default 2)")
    parser.add_argument("--threads", type=int, default=4, help="gthread threads per worker (default 4)")
    parser.add_argument("--db", default="bench_append", help="scratch database (dropped and recreated)")
    parser.add_argument("--count-queries", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--lot", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.count_queries:
        count_queries(args.lot)
        return

    log(f"scratch database {args.db}: create, migrate, demo data")
    scratch_database(args.db, settings=PLAIN_SETTINGS)
    ours = Server(args.db, "config.settings", workers=args.workers, threads=args.threads)
    plain = Server(args.db, PLAIN_SETTINGS, workers=args.workers, threads=args.threads)
    try:
        ours.start()
        plain.start()
        log(f"gunicorn: {' '.join(ours.command[1:])} (ours on :{ours.port}, plain on :{plain.port})")
        token = token_for(ours.port, "pharmacist")
        _, lots = Client(ours.port, token).request("GET", "/api/v1/lots/?limit=100")
        lot = next(item["id"] for item in lots["results"] if item["establishment"] == "DEMO")

        for server, path in ((ours, OURS), (plain, PLAIN)):  # warm-up: connections, imports, caches
            hammer(server.port, path, token, lot, 100, args.clients)

        per_round = args.requests // args.rounds
        results: dict[str, list[tuple[float, Stats]]] = {"ours": [], "plain": []}
        for round_index in range(args.rounds):
            for label, server, path in (("ours", ours, OURS), ("plain", plain, PLAIN)):
                seconds, stats = hammer(server.port, path, token, lot, per_round, args.clients)
                results[label].append((seconds, stats))
                log(f"round {round_index + 1} {label:<5}: {per_round / seconds:7.1f} appends/s  {stats.summary()}  {dict(stats.statuses)}")

        print()
        print(f"Appends per side: {per_round * args.rounds}, clients: {args.clients}, "
              f"gunicorn {args.workers} workers x {args.threads} threads, machine cores: {os.cpu_count()}")
        rates = {}
        for label, runs in results.items():
            seconds = sum(s for s, _ in runs)
            latencies = [ms for _, stats in runs for ms in stats.latencies]
            statuses: dict[str, int] = {}
            for _, stats in runs:
                for key, value in stats.statuses.items():
                    statuses[key] = statuses.get(key, 0) + value
            rates[label] = per_round * args.rounds / seconds
            print(f"  {label:<5}: {rates[label]:7.1f} appends/s   p50 {percentile(latencies, 50):6.1f} ms   "
                  f"p95 {percentile(latencies, 95):6.1f} ms   p99 {percentile(latencies, 99):6.1f} ms   {statuses}")
        print(f"  ratio ours/plain: {rates['ours'] / rates['plain']:.2f} (goal >= 1.0)")
    finally:
        ours.stop()
        plain.stop()

    print()
    print("SQL statements per append (CaptureQueriesContext, in-process):")
    subprocess.run(
        [PYTHON, str(Path(__file__)), "--count-queries", "--lot", str(lot), "--db", args.db],
        cwd=ROOT, env=django_env(args.db, PLAIN_SETTINGS), check=True,
    )
    verify = manage(args.db, "verify_register")
    print()
    print(f"manage.py verify_register (exit {verify.returncode}):")
    print(verify.stdout.rstrip())


if __name__ == "__main__":
    main()
