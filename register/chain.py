"""The hash chain over register lines (tamper evidence, R.5132-36 "integrity on a durable medium").

Each line's hash is SHA-256 over a canonical JSON serialisation of its content plus the previous
line's hash. Changing any stored field of any line, or removing one, breaks the chain from there.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

GENESIS_HASH = "0" * 64


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


def line_payload(
    *,
    establishment_code: str,
    number: int,
    location_code: str,
    lot_id: int,
    batch_number: str,
    product_id: int,
    direction: str,
    reason: str,
    quantity: int,
    balance_after: int,
    counterparty: str,
    prescriber_name: str,
    prescriber_address: str,
    patient_name: str,
    patient_address: str,
    occurred_at: dt.datetime,
    recorded_at: dt.datetime,
    recorded_by_name: str,
    note: str,
    late_entry_reason: str,
    reverses_number: int | None,
    paired_with_number: int | None,
    prev_hash: str,
) -> dict[str, Any]:
    return {
        "establishment": establishment_code,
        "number": number,
        "location": location_code,
        "lot": lot_id,
        "batch": batch_number,
        "product": product_id,
        "direction": direction,
        "reason": reason,
        "quantity": quantity,
        "balance_after": balance_after,
        "counterparty": counterparty,
        "prescriber_name": prescriber_name,
        "prescriber_address": prescriber_address,
        "patient_name": patient_name,
        "patient_address": patient_address,
        "occurred_at": _iso(occurred_at),
        "recorded_at": _iso(recorded_at),
        "recorded_by": recorded_by_name,
        "note": note,
        "late_entry_reason": late_entry_reason,
        "reverses": reverses_number,
        "paired_with": paired_with_number,
        "prev_hash": prev_hash,
    }


def hash_payload(payload: dict[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
