"""Benchmark: the register PDF export of 100,000 lines against a bare-canvas floor.

    DATABASE_URL=postgresql://... python bench/export.py [--lines 100000]

1. ``prepare``: a scratch establishment ``BENCH<lines>`` gets ``lines`` register lines, bulk-inserted
   with a correct hash chain (register.chain), its head and cached balances, so that the export's
   chain verification passes. Inserts only: the register refuses UPDATE and DELETE, not INSERT.
   The same rows are also dumped to a pickle file for the floor.
2. ``ours`` (own subprocess): ``write_register_pdf`` of the whole register from the database, chain
   verification (done while drawing, one pass) and monthly summary included; lines/s, CPU seconds
   and peak RSS (``ru_maxrss``); then ``register_verify`` alone, timed on its own.
   ``ours --draw-only`` (own subprocess): the same export with the chain check switched off
   (``ChainVerifier.feed`` replaced by a no-op), to tell drawing from verifying.
3. ``floor`` (own subprocess, no Django, no database): the same rows, pre-formatted into one string
   each and held in a Python list, drawn with bare ``canvas.drawString``, same font and size.
   Also with Helvetica (reportlab's fastest built-in font) as a second reference.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import pickle
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PRESCRIBERS = [(f"Dr Prescripteur{i} Nom{i}", f"{i} rue de l'Hôpital\n750{i % 20:02d} Paris") for i in range(40)]
PATIENTS = [(f"Patient{i} Nom-Composé{i}", f"{i} avenue de la République, 69{i % 10:03d} Lyon") for i in range(300)]


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def prepare(lines: int, dump: Path) -> str:
    """Create (once) the scratch establishment with ``lines`` chained lines; dump them for the floor."""
    _django()
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from register import services
    from register.chain import GENESIS_HASH, hash_payload, line_payload
    from register.demo import demo_load
    from register.models import Establishment, Lot, Movement, Product, RegisterHead, StockBalance

    code = f"BENCH{lines}"
    establishment = Establishment.objects.filter(code=code).first()
    if establishment is not None and Movement.objects.filter(establishment=establishment).count() == lines and dump.exists():
        return code
    if establishment is not None:
        raise SystemExit(f"{code} exists with another line count: use a fresh database")
    # The migrations load the products but no user: a freshly migrated database needs the demo.
    if not Product.objects.exists() or not get_user_model().objects.exists():
        demo_load(password="bench-pass-2026")
    user = get_user_model().objects.order_by("pk").first()
    assert user is not None
    establishment = services.establishment_create(
        code=code, name="Centre hospitalier de Banc-d'Essai", address="Pharmacie à usage intérieur\n1 rue du Test\n75000 Paris"
    )
    location = services.default_location(establishment)
    lots = [
        Lot.objects.create(establishment=establishment, product=product, batch_number=f"B{index}-{code}",
                           expires_on=dt.date(2030, 1, 1))
        for index, product in enumerate(Product.objects.order_by("pk")[:3])
    ]
    start = dt.datetime(2024, 1, 1, 8, tzinfo=dt.UTC)
    prev_hash = GENESIS_HASH
    balances = {lot.pk: 0 for lot in lots}
    batch: list[Movement] = []
    dumped: list[tuple] = []
    t0 = time.perf_counter()
    with transaction.atomic():
        for number in range(1, lines + 1):
            lot = lots[number % 3]
            receipt = balances[lot.pk] == 0 or number % 15 == 0
            quantity = 20 if receipt else 1
            balances[lot.pk] += quantity if receipt else -quantity
            prescriber = PRESCRIBERS[number % len(PRESCRIBERS)] if not receipt else ("", "")
            patient = PATIENTS[number % len(PATIENTS)] if not receipt else ("", "")
            occurred = start + dt.timedelta(minutes=7 * number)
            late = "Panne du logiciel, saisie différée depuis le cahier de secours" if number % 997 == 0 else ""
            fields = {
                "number": number,
                "direction": "entry" if receipt else "exit",
                "reason": "receipt" if receipt else "dispensation",
                "quantity": quantity,
                "balance_after": balances[lot.pk],
                "counterparty": "Grossiste répartiteur PharmaDis, 10 rue de l'Industrie, 93200 Saint-Denis" if receipt
                else "Service de réanimation",
                "prescriber_name": prescriber[0],
                "prescriber_address": prescriber[1],
                "patient_name": patient[0],
                "patient_address": patient[1],
                "occurred_at": occurred,
                "recorded_at": occurred + dt.timedelta(days=2 if late else 0),
                "recorded_by_name": user.get_username(),
                "note": f"BL-{number}" if receipt else "",
                "late_entry_reason": late,
            }
            payload = line_payload(
                establishment_code=code, location_code=location.code, lot_id=lot.pk, batch_number=lot.batch_number,
                product_id=lot.product_id, reverses_number=None, paired_with_number=None, prev_hash=prev_hash,
                **{key: value for key, value in fields.items()},
            )
            digest = hash_payload(payload)
            batch.append(Movement(establishment=establishment, location=location, lot=lot, recorded_by=user,
                                  prev_hash=prev_hash, hash=digest, **fields))
            dumped.append((number, occurred, lot.product.name, lot.batch_number, fields["direction"], quantity,
                           fields["balance_after"], fields["counterparty"], prescriber[0], patient[0],
                           user.get_username(), digest))
            prev_hash = digest
            if len(batch) == 5000:
                Movement.objects.bulk_create(batch)
                batch.clear()
        Movement.objects.bulk_create(batch)
        RegisterHead.objects.filter(establishment=establishment).update(last_number=lines, last_hash=prev_hash)
        for lot in lots:
            StockBalance.objects.create(location=location, lot=lot, on_hand=balances[lot.pk], last_number=lines)
    with dump.open("wb") as handle:
        pickle.dump(dumped, handle, protocol=pickle.HIGHEST_PROTOCOL)
    print(f"prepared {lines} lines in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return code


def ours(code: str, out: Path, *, draw_only: bool = False) -> dict:
    _django()
    from register.export import pdf
    from register.export.lines import ExportScope
    from register.export.pdf import write_register_pdf
    from register.models import Establishment
    from register.selectors import register_verify

    if draw_only:
        from register.chain import ChainVerifier

        class NoCheck(ChainVerifier):
            def feed(self, row: Sequence[Any]) -> str | None:
                return None

        pdf.ChainVerifier = NoCheck  # type: ignore[misc]

    establishment = Establishment.objects.get(code=code)
    scope = ExportScope.snapshot(establishment)
    t0, c0 = time.perf_counter(), cpu_seconds()
    with out.open("wb") as handle:
        count = write_register_pdf(handle, scope, edited_by="bench")
    elapsed, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    t1, c1 = time.perf_counter(), cpu_seconds()
    verified = register_verify(establishment) if not draw_only else None
    verify, verify_cpu = time.perf_counter() - t1, cpu_seconds() - c1
    if verified is not None and not verified.ok:
        raise SystemExit(f"the bench register does not verify: {verified.problem}")
    from pypdf import PdfReader

    pages = len(PdfReader(str(out)).pages)
    return {"lines": count, "pages": pages, "seconds": elapsed, "cpu": cpu, "verify_seconds": verify,
            "verify_cpu": verify_cpu, "peak_mb": peak_mb(), "bytes": out.stat().st_size}


def floor(dump: Path, out: Path, font: str) -> dict:
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen.canvas import Canvas

    if font != "Helvetica":
        fonts = ROOT / "register" / "export" / "fonts" / "DejaVuSansCondensed.ttf"
        pdfmetrics.registerFont(TTFont(font, str(fonts)))
    with dump.open("rb") as handle:
        rows = pickle.load(handle)
    texts = [
        f"{r[0]} {r[1]:%d/%m/%Y %H:%M} {r[2]} lot {r[3]} {r[4]} {r[5]} solde {r[6]} {r[7][:40]} {r[8]} {r[9]} {r[10]}"
        for r in rows
    ]
    del rows
    width, height = landscape(A4)
    t0, c0 = time.perf_counter(), cpu_seconds()
    canvas = Canvas(str(out), pagesize=(width, height), pageCompression=1)
    y = height - 30
    canvas.setFont(font, 7)
    for text in texts:
        canvas.drawString(20, y, text)
        y -= 8.4
        if y < 30:
            canvas.showPage()
            canvas.setFont(font, 7)
            y = height - 30
    canvas.save()
    elapsed, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    return {"lines": len(texts), "seconds": elapsed, "cpu": cpu, "peak_mb": peak_mb(), "bytes": out.stat().st_size}


def _child(*args: str) -> dict:
    completed = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", nargs="?", default="run", choices=["run", "prepare", "ours", "floor"])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--code", default="")
    parser.add_argument("--dump", default="")
    parser.add_argument("--out", default="")
    parser.add_argument("--font", default="RegisterSans")
    parser.add_argument("--draw-only", action="store_true", help="ours: skip the chain check (bench only)")
    parser.add_argument("--repeat", type=int, default=1, help="interleaved rounds; the best of each side is printed")
    args = parser.parse_args()
    work = Path(tempfile.gettempdir()) / "register-export-bench"
    work.mkdir(exist_ok=True)
    dump = Path(args.dump or work / f"rows-{args.lines}.pickle")
    if args.step == "prepare":
        print(json.dumps({"code": prepare(args.lines, dump)}))
        return
    if args.step == "ours":
        print(json.dumps(ours(args.code, Path(args.out), draw_only=args.draw_only)))
        return
    if args.step == "floor":
        print(json.dumps(floor(dump, Path(args.out), args.font)))
        return
    code = _child("prepare", "--lines", str(args.lines), "--dump", str(dump))["code"]
    load = os.getloadavg()[0]
    runs: dict[str, list[dict]] = {"ours": [], "drawing": [], "floor": [], "helvetica": []}
    for _ in range(args.repeat):
        # Interleaved rounds: on a machine shared with other work, each side sees the same load.
        runs["ours"].append(_child("ours", "--code", code, "--out", str(work / "ours.pdf")))
        runs["drawing"].append(_child("ours", "--code", code, "--out", str(work / "ours-draw-only.pdf"), "--draw-only"))
        runs["floor"].append(_child("floor", "--dump", str(dump), "--out", str(work / "floor.pdf"), "--font", "RegisterSans"))
        runs["helvetica"].append(
            _child("floor", "--dump", str(dump), "--out", str(work / "floor-helvetica.pdf"), "--font", "Helvetica")
        )
    # Best of the rounds for each side (fastest wall, least CPU, each side alike): the least
    # disturbed run of each, which is what the code itself costs.
    mine, drawing, bare, helvetica = (
        {**min(found, key=lambda run: run["seconds"]), "cpu": min(run["cpu"] for run in found)}
        for found in (runs["ours"], runs["drawing"], runs["floor"], runs["helvetica"])
    )
    if args.repeat > 1:
        print(f"best of {args.repeat} interleaved rounds per side; CPU seconds per round: "
              + "; ".join(f"{name} " + "/".join(f"{run['cpu']:.1f}" for run in found) for name, found in runs.items()))
    n = mine["lines"]
    rate, draw_rate = n / mine["seconds"], n / drawing["seconds"]
    floor_rate, helv_rate = n / bare["seconds"], n / helvetica["seconds"]
    print(f"lines: {n}   (machine load average before the run: {load:.1f} on {os.cpu_count()} cores)")
    print(f"ours  (DB -> register PDF, chain verified while drawing + summary): {mine['seconds']:.1f} s wall, "
          f"{rate:,.0f} lines/s; {mine['cpu']:.1f} s CPU in Python ({n / mine['cpu']:,.0f} lines/CPU-s); "
          f"peak RSS {mine['peak_mb']:.0f} MB; file {mine['bytes'] / 1e6:.1f} MB, {mine['pages']} pages")
    print(f"ours, drawing only (chain check off, bench only): {drawing['seconds']:.1f} s wall, {draw_rate:,.0f} lines/s; "
          f"{drawing['cpu']:.1f} s CPU ({n / drawing['cpu']:,.0f} lines/CPU-s); peak RSS {drawing['peak_mb']:.0f} MB")
    print(f"register_verify alone (whole register, run separately): {mine['verify_seconds']:.1f} s wall, "
          f"{mine['verify_cpu']:.1f} s CPU")
    print(f"floor (Python list -> bare drawString, same TTF font): {bare['seconds']:.1f} s wall, {floor_rate:,.0f} lines/s; "
          f"{bare['cpu']:.1f} s CPU ({n / bare['cpu']:,.0f} lines/CPU-s); peak RSS {bare['peak_mb']:.0f} MB; "
          f"file {bare['bytes'] / 1e6:.1f} MB")
    print(f"floor (Python list -> bare drawString, Helvetica): {helvetica['seconds']:.1f} s wall, {helv_rate:,.0f} lines/s; "
          f"{helvetica['cpu']:.1f} s CPU; peak RSS {helvetica['peak_mb']:.0f} MB")
    print(f"ratio ours/floor, same font: {rate / floor_rate:.2f} wall, {bare['cpu'] / mine['cpu']:.2f} CPU  (goal >= 0.5)")
    print(f"ratio ours drawing only/floor, same font: {draw_rate / floor_rate:.2f} wall, "
          f"{bare['cpu'] / drawing['cpu']:.2f} CPU")
    print(f"ratio ours/floor, Helvetica: {rate / helv_rate:.2f} wall, {helvetica['cpu'] / mine['cpu']:.2f} CPU")
    print(f"peak memory ours - floor (same font): {mine['peak_mb'] - bare['peak_mb']:+.0f} MB  (goal <= +100 MB)")


if __name__ == "__main__":
    main()
