"""Crash (issue 9 §2): kill -9 the server, then restart PostgreSQL, in the middle of the load.

    /work/main/.venv/bin/python bench/crash.py --duration 45 --clients 16

The load of bench/load.py runs against gunicorn on 127.0.0.1 (scratch database on the machine's
PostgreSQL server). Faults, each in the middle of the load:

1. at ``--kill-at`` s: SIGKILL to the gunicorn master and all its workers at once, then a
   restart on the same port;
2. at ``--terminate-at`` s: every server connection to the scratch database is terminated
   (``pg_terminate_backend``, what the application sees of a database restart, limited to
   this database);
3. at the end of the run (``--pg-restart-at`` s, skipped with ``--no-pg-restart``): the
   machine's PostgreSQL server itself is restarted
   (``pg_ctlcluster --skip-systemctl-redirect 15 main restart``). This touches every database
   of the server: it is the last fault, and only against the machine's server.

For each fault it prints how many writes were in flight. Afterwards: every acknowledged (2xx)
line, recorded client-side by id and number, is in the database; every line has its audit event
(nothing half-written); ``verify_register`` passes (chain, gap-free numbers, balances = ledger).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg

from bench.common import Server, database_url, log, run_threads, scratch_database
from bench.load import MIX, Context, check_database, client_loop, demo_lots, login_all, register_lines, report


def in_flight(ctx: Context) -> int:
    with ctx.lock:
        return ctx.in_flight_writes


def pg_version() -> str:
    return sorted(p.name for p in Path("/etc/postgresql").iterdir())[-1]


def wait_for_postgres(timeout: float = 60) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-q"]).returncode == 0:
            return time.monotonic() - started
        time.sleep(0.2)
    raise SystemExit("PostgreSQL did not come back")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=45.0, help="seconds of load (default 45)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--kill-at", type=float, default=10.0, help="kill -9 gunicorn at this second")
    parser.add_argument("--terminate-at", type=float, default=22.0, help="terminate the database connections")
    parser.add_argument("--pg-restart-at", type=float, default=34.0, help="restart PostgreSQL at this second")
    parser.add_argument("--no-pg-restart", action="store_true", help="do not restart the machine's PostgreSQL")
    parser.add_argument("--db", default="bench_crash")
    args = parser.parse_args()

    log(f"scratch database {args.db}: create, migrate, demo data")
    scratch_database(args.db)
    server = Server(args.db, workers=args.workers, threads=args.threads).start()
    events: list[str] = []
    try:
        tokens = login_all(server.port)
        ctx = Context(port=server.port, tokens=tokens, lots=demo_lots(server.port, tokens["pharmacist"]),
                      setup_lines=register_lines(args.db))
        log(f"{args.clients} clients for {args.duration:.0f} s against {' '.join(server.command[1:])}")
        loader = threading.Thread(target=run_threads, args=(args.clients, client_loop, ctx, list(MIX)), daemon=True)
        started = time.perf_counter()
        loader.start()

        def at(second: float) -> None:
            time.sleep(max(0.0, second - (time.perf_counter() - started)))

        at(args.kill_at)
        flying = in_flight(ctx)
        pids = server.kill9()
        events.append(f"t={time.perf_counter() - started:5.1f}s kill -9 gunicorn (pids {pids}): "
                      f"{flying} writes in flight")
        log(events[-1])
        time.sleep(1.0)
        down_from = time.perf_counter()
        server = Server(args.db, workers=args.workers, threads=args.threads, port=server.port).start()
        events.append(f"  gunicorn restarted on the same port, answering after {time.perf_counter() - down_from:.1f} s")
        log(events[-1])

        at(args.terminate_at)
        flying = in_flight(ctx)
        with psycopg.connect(database_url("postgres"), autocommit=True) as conn:
            killed = conn.execute(
                "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()) AS t", [args.db]
            ).fetchone()[0]
        events.append(f"t={time.perf_counter() - started:5.1f}s pg_terminate_backend on {args.db}: "
                      f"{killed} connections, {flying} writes in flight")
        log(events[-1])

        if not args.no_pg_restart:
            at(args.pg_restart_at)
            flying = in_flight(ctx)
            version = pg_version()
            restart = subprocess.run(
                ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
                capture_output=True, text=True,
            )
            back_after = wait_for_postgres()
            events.append(f"t={time.perf_counter() - started:5.1f}s pg_ctlcluster {version} main restart "
                          f"(exit {restart.returncode}): {flying} writes in flight; accepting again after "
                          f"{back_after:.1f} s")
            log(events[-1])

        at(args.duration)
        ctx.stop.set()
        loader.join()
        seconds = time.perf_counter() - started
    finally:
        server.stop()
    print()
    print("Faults:")
    for event in events:
        print("  " + event)
    print(f"writes sent without an answer (connection dropped): {ctx.unanswered_writes}")
    server_errors = report(ctx, seconds)
    problems = check_database(args.db, ctx)
    print(f"5xx answers: {server_errors} (500: {ctx.statuses.get('500', 0)}; 503 database_unavailable: "
          f"{ctx.statuses.get('503 database_unavailable', 0)})")
    if ctx.statuses.get("500", 0):
        problems.append(f"{ctx.statuses['500']} answers were 500 (a 503 is the honest answer while the database is away)")
    print("RESULT:", "OK (nothing acknowledged lost, nothing half-written, chain verifies)" if not problems
          else "FAILED: " + "; ".join(problems))
    raise SystemExit(1 if problems else 0)


if __name__ == "__main__":
    main()
