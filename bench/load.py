"""Load (issue 9 §1): 16 clients mixing writes, reads and verification for a bounded time.

    /work/main/.venv/bin/python bench/load.py --duration 30 --clients 16

gunicorn on 127.0.0.1 with the project settings against a scratch database on the machine's
PostgreSQL server. The mix: entries, exits (some beyond the stock: 409 insufficient_stock),
reversals, register reads (lines, one line, stock, lots, products) and verification.
Dispensations join the mix with ``--dispensations`` once the prescriptions API is merged
(``op_dispensation`` below, written against API.md).

Reports throughput, p50/p95/p99 latency, the count of answers by status and code; then checks
that ``manage.py verify_register`` passes (chain, gap-free numbers, balances equal the ledger),
that every acknowledged line is in the database with its audit event, and that no 5xx occurred.
"""

from __future__ import annotations

import argparse
import http.client
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg

from bench.common import Client, Server, database_url, log, manage, percentile, run_threads, scratch_database, token_for

WRITERS = ("pharmacist", "pharmacist2", "technician")
READERS = ("pharmacist", "pharmacist2", "technician", "inspector")
VERIFIERS = ("pharmacist", "inspector")


@dataclass
class Context:
    """What the client threads share: tokens, lots, acknowledged writes, counters."""

    port: int
    tokens: dict[str, str]
    lots: list[int]
    seed: int = 1
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # (id, number) of every movement the server acknowledged with 2xx.
    acknowledged: list[tuple[int, int]] = field(default_factory=list)
    # Writes sent whose answer never came (connection dropped): possibly committed, possibly not.
    unanswered_writes: int = 0
    in_flight_writes: int = 0
    latencies: dict[str, list[float]] = field(default_factory=dict)
    statuses: Counter[str] = field(default_factory=Counter)
    prescriptions: list[tuple[int, int]] = field(default_factory=list)  # (prescription, lot), op_dispensation
    # Lines already in the register before the clients start (manage.py demo and its scenario).
    setup_lines: int = 0

    def record(self, op: str, status: int | str, code: str, ms: float) -> None:
        with self.lock:
            self.latencies.setdefault(op, []).append(ms)
            self.statuses[f"{status} {code}".strip()] += 1

    def acknowledge(self, body: Any) -> None:
        with self.lock:
            self.acknowledged.append((int(body["id"]), int(body["number"])))

    def recent_line(self, rng: random.Random) -> int | None:
        with self.lock:
            if not self.acknowledged:
                return None
            return self.acknowledged[-rng.randint(1, min(50, len(self.acknowledged)))][0]


Request = tuple[str, str, str, Any]  # (user, method, path, body)


def op_entry(ctx: Context, rng: random.Random) -> Request:
    body = {"direction": "entry", "reason": "receipt", "lot": rng.choice(ctx.lots), "quantity": rng.randint(1, 6),
            "counterparty": "Grossiste PharmaDis, 93200 Saint-Denis", "note": f"BL-{rng.randint(1, 10**6)}"}
    return rng.choice(WRITERS), "POST", "/api/v1/movements/", body


def op_exit(ctx: Context, rng: random.Random) -> Request:
    # Up to 12 units: larger than what a lot often holds, so some exits meet insufficient_stock.
    body = {"direction": "exit", "reason": rng.choice(["loss", "supplier_return"]), "lot": rng.choice(ctx.lots),
            "quantity": rng.randint(1, 12), "counterparty": "Retour fournisseur"}
    return rng.choice(WRITERS), "POST", "/api/v1/movements/", body


def op_reverse(ctx: Context, rng: random.Random) -> Request:
    line = ctx.recent_line(rng)
    if line is None:
        return op_entry(ctx, rng)
    return "pharmacist", "POST", f"/api/v1/movements/{line}/reverse/", {"reason": "Erreur de saisie (bench)"}


def op_read_lines(ctx: Context, rng: random.Random) -> Request:
    return rng.choice(READERS), "GET", f"/api/v1/movements/?limit=20&lot={rng.choice(ctx.lots)}", None


def op_read_line(ctx: Context, rng: random.Random) -> Request:
    line = ctx.recent_line(rng)
    return rng.choice(READERS), "GET", f"/api/v1/movements/{line or 1}/", None


def op_read_stock(ctx: Context, rng: random.Random) -> Request:
    return rng.choice(READERS), "GET", rng.choice(["/api/v1/stock/", "/api/v1/lots/", "/api/v1/products/"]), None


def op_verify(ctx: Context, rng: random.Random) -> Request:
    return rng.choice(VERIFIERS), "GET", "/api/v1/register/verify/", None


def op_dispensation(ctx: Context, rng: random.Random) -> Request:
    """A dispensation of one unit against a prescription made at set-up (API.md).

    The pharmacist gives an override justification (a blocking hepatotoxic alert is then
    overridden, DOMAIN.md §4); the technician does not, so some of its dispensations meet 409.
    """
    prescription, lot = rng.choice(ctx.prescriptions)
    user = rng.choice(("pharmacist", "technician"))
    body: dict[str, Any] = {"lot": lot, "quantity": 1}
    if user == "pharmacist":
        body["override_justification"] = "Protocole des brûlés validé en réunion pluridisciplinaire (bench)"
    return user, "POST", f"/api/v1/prescriptions/{prescription}/dispensations/", body


def setup_dispensations(ctx: Context, client_for: Callable[[str], Client], count: int = 8) -> None:
    """Patients and prescriptions for ``op_dispensation``, each for the product of a DEMO lot."""
    prescriber = client_for("prescriber")
    _, lots = client_for("pharmacist").request("GET", "/api/v1/lots/?limit=100")
    lot_products = [(item["id"], item["product"]) for item in lots["results"] if item["establishment"] == "DEMO"]
    for index in range(count):
        lot, product = lot_products[index % len(lot_products)]
        status, patient = prescriber.request("POST", "/api/v1/patients/", {
            "last_name": f"Bench{index}", "first_name": "Patient", "sex": "F", "birth_date": "1980-01-01",
            "address": "1 rue du Test, 75014 Paris", "weight_kg": 70, "hepatic_impairment": False})
        if status != 201:
            raise SystemExit(f"--dispensations: POST /api/v1/patients/ answered {status} {patient}")
        status, prescription = prescriber.request("POST", "/api/v1/prescriptions/", {
            "patient": patient["id"], "secure_form_lot": f"BENCH{index:04d}", "declared_lines": 1,
            "issued_on": time.strftime("%Y-%m-%d"), "duration_days": 28,
            "lines": [{"product": product, "kind": "bolus", "dose_mg": 25, "doses_per_day": 2}]})
        if status != 201:
            raise SystemExit(f"--dispensations: POST /api/v1/prescriptions/ answered {status} {prescription}")
        ctx.prescriptions.append((prescription["id"], lot))


# (operation, weight). Writes are POSTs; reversals and dispensations are writes too.
MIX: list[tuple[Callable[[Context, random.Random], Request], int]] = [
    (op_entry, 30),
    (op_exit, 30),
    (op_reverse, 4),
    (op_read_lines, 14),
    (op_read_line, 8),
    (op_read_stock, 12),
    (op_verify, 2),
]


def client_loop(index: int, ctx: Context, mix: list[tuple[Callable[[Context, random.Random], Request], int]]) -> None:
    rng = random.Random(ctx.seed * 1000 + index)
    clients: dict[str, Client] = {}
    ops = [op for op, _ in mix]
    weights = [weight for _, weight in mix]
    while not ctx.stop.is_set():
        op = rng.choices(ops, weights)[0]
        user, method, path, body = op(ctx, rng)
        client = clients.get(user)
        if client is None or client.port != ctx.port:
            client = clients[user] = Client(ctx.port, ctx.tokens[user], timeout=60)
        write = method == "POST"
        if write:
            with ctx.lock:
                ctx.in_flight_writes += 1
        started = time.perf_counter()
        try:
            status, answer = client.request(method, path, body)
        except (OSError, http.client.HTTPException) as exc:
            # No answer: the server (or the database behind it) went away mid-request.
            ms = (time.perf_counter() - started) * 1000
            with ctx.lock:
                if write:
                    ctx.in_flight_writes -= 1
                    ctx.unanswered_writes += 1
            ctx.record(op.__name__, "no-answer", type(exc).__name__, ms)
            time.sleep(0.05)
            continue
        ms = (time.perf_counter() - started) * 1000
        if write:
            with ctx.lock:
                ctx.in_flight_writes -= 1
        code = answer.get("code", "") if isinstance(answer, dict) and status >= 400 else ""
        ctx.record(op.__name__, status, code, ms)
        if write and status == 201 and isinstance(answer, dict):
            if "number" in answer:
                ctx.acknowledge(answer)
            elif "movement_number" in answer:  # a dispensation: its register line
                ctx.acknowledge({"id": answer["movement"], "number": answer["movement_number"]})
    for client in clients.values():
        client.close()


def login_all(port: int) -> dict[str, str]:
    users = set(WRITERS) | set(READERS) | set(VERIFIERS) | {"prescriber"}
    return {user: token_for(port, user) for user in sorted(users)}


def demo_lots(port: int, token: str) -> list[int]:
    _, lots = Client(port, token).request("GET", "/api/v1/lots/?limit=100")
    return [item["id"] for item in lots["results"] if item["establishment"] == "DEMO"]


def register_lines(db: str) -> int:
    """How many lines the scratch register holds (before the run: the demo's set-up lines)."""
    with psycopg.connect(database_url(db)) as conn:
        return int(conn.execute("SELECT count(*) FROM register_movement").fetchone()[0])


def check_database(db: str, ctx: Context) -> list[str]:
    """After the run: what the server acknowledged is there, every line has its audit event,
    ``verify_register`` passes. Returns the problems found (empty: all good)."""
    problems = []
    verify = manage(db, "verify_register")
    print(f"manage.py verify_register (exit {verify.returncode}):")
    print("  " + verify.stdout.strip().replace("\n", "\n  "))
    if verify.returncode != 0:
        problems.append("verify_register failed")
    with psycopg.connect(database_url(db)) as conn:
        present = dict(conn.execute("SELECT id, number FROM register_movement").fetchall())
        missing = [(line_id, number) for line_id, number in ctx.acknowledged if present.get(line_id) != number]
        if missing:
            problems.append(f"{len(missing)} acknowledged lines missing, e.g. {missing[:5]}")
        orphans = conn.execute(
            "SELECT count(*) FROM register_movement m WHERE NOT EXISTS (SELECT 1 FROM audit_auditevent a "
            "WHERE a.object_type = 'register.Movement' AND a.object_id = m.id::text)"
        ).fetchone()[0]
        if orphans:
            problems.append(f"{orphans} lines without their audit event")
        gaps = conn.execute(
            "SELECT establishment_id, count(*), max(number) FROM register_movement GROUP BY establishment_id "
            "HAVING count(*) <> max(number)"
        ).fetchall()
        if gaps:
            problems.append(f"order numbers missing: {gaps}")
        # Every verification made during the run is in the audit trail with its verdict: the
        # register was never broken, so each must have said ok.
        verdicts = dict(conn.execute(
            "SELECT data->>'ok', count(*) FROM audit_auditevent WHERE action = 'register.verified' GROUP BY 1"
        ).fetchall())
        if verdicts.get("false"):
            problems.append(f"{verdicts['false']} verifications answered ok: false on an intact register")
        acknowledged = {line_id for line_id, _ in ctx.acknowledged}
        demo_lines = ctx.setup_lines
        print(f"acknowledged lines: {len(ctx.acknowledged)}, all present: {not missing}; lines in the database: "
              f"{len(present)} (demo set-up {demo_lines}, committed but never acknowledged "
              f"{len(set(present) - acknowledged) - demo_lines}); lines without audit event: {orphans}; "
              f"establishments with a gap: {len(gaps)}; verifications ok: {verdicts.get('true', 0)}, "
              f"not ok: {verdicts.get('false', 0)}")
    return problems


def report(ctx: Context, seconds: float) -> int:
    every = [ms for values in ctx.latencies.values() for ms in values]
    total = len(every)
    print(f"requests: {total} in {seconds:.1f} s = {total / seconds:.1f} req/s; "
          f"p50 {percentile(every, 50):.1f} ms, p95 {percentile(every, 95):.1f} ms, p99 {percentile(every, 99):.1f} ms")
    for op, values in sorted(ctx.latencies.items()):
        print(f"  {op:<16} {len(values):6d}  p50 {percentile(values, 50):7.1f}  p95 {percentile(values, 95):7.1f}  "
              f"p99 {percentile(values, 99):7.1f} ms")
    print("answers by status and code:")
    for key, count in sorted(ctx.statuses.items()):
        print(f"  {key:<40} {count}")
    return sum(count for key, count in ctx.statuses.items() if key.startswith("5"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load (default 30)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (default 16)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--threads", type=int, default=8, help="gthread threads per worker (default 8)")
    parser.add_argument("--db", default="bench_load", help="scratch database (dropped and recreated)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dispensations", action="store_true",
                        help="add dispensations to the mix (needs the prescriptions API)")
    args = parser.parse_args()

    log(f"scratch database {args.db}: create, migrate, demo data")
    scratch_database(args.db)
    server = Server(args.db, workers=args.workers, threads=args.threads).start()
    try:
        tokens = login_all(server.port)
        ctx = Context(port=server.port, tokens=tokens, lots=demo_lots(server.port, tokens["pharmacist"]),
                      seed=args.seed, setup_lines=register_lines(args.db))
        mix = list(MIX)
        if args.dispensations:
            setup_dispensations(ctx, lambda user: Client(server.port, tokens[user]))
            mix.append((op_dispensation, 15))
        log(f"{args.clients} clients for {args.duration:.0f} s against {' '.join(server.command[1:])}")
        timer = threading.Timer(args.duration, ctx.stop.set)
        started = time.perf_counter()
        timer.start()
        run_threads(args.clients, client_loop, ctx, mix)
        seconds = time.perf_counter() - started
    finally:
        server.stop()
    server_errors = report(ctx, seconds)
    problems = check_database(args.db, ctx)
    if server_errors:
        problems.append(f"{server_errors} answers were 5xx")
    print("RESULT:", "OK" if not problems else "FAILED: " + "; ".join(problems))
    raise SystemExit(1 if problems else 0)


if __name__ == "__main__":
    main()
