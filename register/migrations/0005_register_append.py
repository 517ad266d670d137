"""``register_append``: the locked part of ``register.services.movement_record`` in one round trip.

Why a database function: appends to one establishment are serialised by the register lock (the
head row), so the time the lock is held bounds how many lines per second a pharmacy can write
(bench/append.py). Done from Python, the locked section was five round trips (head, balance,
line + head hash, audit event, COMMIT), each one waiting for the GIL and a core on a busy
server. Here it is one call and the COMMIT. The rules checked in here are the ones that must be
checked under the lock; ``movement_record`` checks the others before calling, and stays the only
caller (the application's role needs no new privilege: the function runs with the caller's).

Each statement of a PL/pgSQL function takes a fresh snapshot (READ COMMITTED), so the balance
read after the head lock sees every line committed before the lock was granted.

A refusal raises ``register_append:<code>`` (SQLSTATE P0001), which ``movement_record`` turns
into its DomainError: ``not_narcotic_on_date``, ``register_missing``, ``month_closed``,
``lot_quarantined``, ``insufficient_stock`` (units on hand in DETAIL, the location in HINT).
Raising, not returning a status, is what makes the call safe on its own in autocommit: the
statement is then its transaction, and an error rolls it back whole, including the order
number taken here, so numbers stay gap-free. Called alone, the COMMIT happens in the same round
trip, and the lock is released without waiting for the application at all.
"""

from django.db import migrations

CREATE = r"""
DROP FUNCTION IF EXISTS register_append(
    bigint, bigint, bigint, bigint, bigint, date, date, boolean, text, text, integer, text, text, text, text,
    text, timestamptz, timestamptz, integer, text, text, text, bigint, bigint, text[], integer, text, text,
    text, text, jsonb, inet, text, text);
CREATE FUNCTION register_append(
    p_establishment_id bigint,
    p_location_id bigint,           -- NULL: the establishment's vault (code VAULT)
    p_lot_id bigint,
    p_substance_id bigint,
    p_product_id bigint,
    p_day date,                     -- local date of occurred_at: the narcotic listing to check
    p_closed_month date,            -- first day of occurred_at's month when earlier than this month, else NULL
    p_refuse_quarantined boolean,
    p_direction text,
    p_reason text,
    p_quantity integer,
    p_counterparty text,
    p_prescriber_name text,
    p_prescriber_address text,
    p_patient_name text,
    p_patient_address text,
    p_occurred_at timestamptz,
    p_recorded_at timestamptz,
    p_recorded_by_id integer,
    p_recorded_by_name text,
    p_note text,
    p_late_entry_reason text,
    p_reverses_id bigint,
    p_paired_with_id bigint,
    p_hash_parts text[],            -- register.chain.line_hash_parts
    p_audit_actor_id integer,
    p_audit_actor_username text,
    p_audit_role text,
    p_audit_action text,
    p_audit_object_type text,
    p_audit_data jsonb,             -- completed here with the line's order number
    p_audit_ip inet,
    p_audit_user_agent text,
    p_audit_request_id text
) RETURNS TABLE (r_line_id bigint, r_number bigint, r_balance_after integer, r_hash text, r_prev_hash text,
                 r_location_id bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
    v_location bigint := p_location_id;
    v_number bigint;
    v_prev text;
    v_balance integer;
    v_hash text;
    v_id bigint;
    v_delta integer := CASE WHEN p_direction = 'entry' THEN p_quantity ELSE -p_quantity END;
BEGIN
    -- DOMAIN.md §1: the register records movements dated within a narcotic listing period only.
    IF NOT EXISTS (
        SELECT 1 FROM register_substanceclassification c
        WHERE c.substance_id = p_substance_id AND c.schedule = 'narcotic'
          AND c.valid_from <= p_day AND (c.valid_to IS NULL OR c.valid_to >= p_day)
    ) THEN
        RAISE EXCEPTION 'register_append:not_narcotic_on_date';
    END IF;
    IF v_location IS NULL THEN
        SELECT l.id INTO v_location FROM register_location l
        WHERE l.establishment_id = p_establishment_id AND l.kind = 'vault' AND l.code = 'VAULT';
    END IF;

    -- The register lock. Taking the head row first serialises appends per establishment: without
    -- it two writers would read the same last number and previous hash and fork the chain. Every
    -- writer takes it first, then the balance row: one lock order, no deadlock.
    UPDATE register_registerhead h SET last_number = h.last_number + 1
    WHERE h.establishment_id = p_establishment_id
    RETURNING h.last_number, h.last_hash INTO v_number, v_prev;
    IF NOT FOUND OR v_location IS NULL THEN
        RAISE EXCEPTION 'register_append:register_missing';
    END IF;

    -- A closed month's balance is frozen (R.5132-36): a late line dated inside it would silently
    -- falsify the closing. Checked under the lock, which closings take too.
    IF p_closed_month IS NOT NULL AND EXISTS (
        SELECT 1 FROM register_monthlyclosing m
        WHERE m.establishment_id = p_establishment_id AND m.product_id = p_product_id AND m.month = p_closed_month
    ) THEN
        RAISE EXCEPTION 'register_append:month_closed';
    END IF;

    IF v_delta > 0 THEN
        INSERT INTO register_stockbalance AS b (location_id, lot_id, on_hand, last_number)
        VALUES (v_location, p_lot_id, v_delta, 0)
        ON CONFLICT (location_id, lot_id) DO UPDATE SET on_hand = b.on_hand + EXCLUDED.on_hand
        RETURNING b.on_hand INTO v_balance;
    ELSE
        -- An exit only matches a row holding enough units, so the balance never goes negative (the
        -- CHECK constraint is the guarantee behind it). It also re-reads the lot's quarantine here,
        -- under the register lock that quarantining takes: a lot put in quarantine while this
        -- request was on its way cannot slip out.
        UPDATE register_stockbalance b SET on_hand = b.on_hand + v_delta
        WHERE b.location_id = v_location AND b.lot_id = p_lot_id AND b.on_hand + v_delta >= 0
          AND NOT (p_refuse_quarantined AND EXISTS (
              SELECT 1 FROM register_lot q WHERE q.id = p_lot_id AND q.quarantined_at IS NOT NULL))
        RETURNING b.on_hand INTO v_balance;
        IF NOT FOUND THEN
            IF p_refuse_quarantined AND EXISTS (
                SELECT 1 FROM register_lot q WHERE q.id = p_lot_id AND q.quarantined_at IS NOT NULL
            ) THEN
                RAISE EXCEPTION 'register_append:lot_quarantined';
            END IF;
            RAISE EXCEPTION 'register_append:insufficient_stock' USING
                DETAIL = COALESCE((SELECT b.on_hand FROM register_stockbalance b
                                   WHERE b.location_id = v_location AND b.lot_id = p_lot_id), 0)::text,
                HINT = v_location::text;
        END IF;
    END IF;

    -- register.chain: SHA-256 of the canonical JSON, whose three lock-time values are spliced here.
    v_hash := encode(sha256(convert_to(
        '{"balance_after":' || v_balance || p_hash_parts[1] || v_number || p_hash_parts[2] || v_prev || p_hash_parts[3],
        'UTF8')), 'hex');

    INSERT INTO register_movement (
        establishment_id, number, location_id, lot_id, direction, reason, quantity, balance_after,
        counterparty, prescriber_name, prescriber_address, patient_name, patient_address,
        occurred_at, recorded_at, recorded_by_id, recorded_by_name, note, late_entry_reason,
        reverses_id, paired_with_id, prev_hash, hash
    ) VALUES (
        p_establishment_id, v_number, v_location, p_lot_id, p_direction, p_reason, p_quantity, v_balance,
        p_counterparty, p_prescriber_name, p_prescriber_address, p_patient_name, p_patient_address,
        p_occurred_at, p_recorded_at, p_recorded_by_id, p_recorded_by_name, p_note, p_late_entry_reason,
        p_reverses_id, p_paired_with_id, v_prev, v_hash
    ) RETURNING id INTO v_id;

    UPDATE register_registerhead h SET last_hash = v_hash WHERE h.establishment_id = p_establishment_id;

    -- The audit event of the line, in the same transaction (audit.services.audit_event_values).
    INSERT INTO audit_auditevent (
        occurred_at, actor_id, actor_username, role, establishment_id, action, object_type, object_id,
        data, ip_address, user_agent, request_id
    ) VALUES (
        p_recorded_at, p_audit_actor_id, p_audit_actor_username, p_audit_role, p_establishment_id,
        p_audit_action, p_audit_object_type, v_id::text,
        p_audit_data || jsonb_build_object('number', v_number), p_audit_ip, p_audit_user_agent, p_audit_request_id
    );

    RETURN QUERY SELECT v_id, v_number, v_balance, v_hash, v_prev, v_location;
END
$fn$;
-- Only the owner and the role harden_db prepares (audit.db_privileges.APP_FUNCTIONS) may call it.
REVOKE EXECUTE ON FUNCTION register_append(
    bigint, bigint, bigint, bigint, bigint, date, date, boolean, text, text, integer, text, text, text, text,
    text, timestamptz, timestamptz, integer, text, text, text, bigint, bigint, text[], integer, text, text,
    text, text, jsonb, inet, text, text) FROM PUBLIC;
"""

DROP = """
DROP FUNCTION IF EXISTS register_append(
    bigint, bigint, bigint, bigint, bigint, date, date, boolean, text, text, integer, text, text, text, text,
    text, timestamptz, timestamptz, integer, text, text, text, bigint, bigint, text[], integer, text, text,
    text, text, jsonb, inet, text, text);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("register", "0004_monthly_closing"),
        ("audit", "0005_people_history"),
    ]

    operations = [migrations.RunSQL(CREATE, DROP)]
