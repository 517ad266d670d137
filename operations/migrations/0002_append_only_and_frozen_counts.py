"""The database guards the workflow records (CSP R.5132-36: no modification after validation).

Destruction records (PV), theft/loss reports, their checklist steps and ward returns are
append-only (the register's trigger function). An inventory count is a state machine
(open -> submitted -> validated, submitted -> open); once validated neither the count nor its
lines can change, and nothing of a count is ever deleted.
"""

from django.db import migrations

from register.migrations._append_only_sql import protect, unprotect

APPEND_ONLY = [
    "operations_destructionrecord",
    "operations_destructionline",
    "operations_theftlossreport",
    "operations_theftlossreportstep",
    "operations_wardreturn",
]

INVENTORY_SQL = """
CREATE OR REPLACE FUNCTION operations_inventorycount_fsm() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.status <> 'open' THEN
            RAISE EXCEPTION 'inventory: a count starts open, not %', NEW.status USING ERRCODE = 'P0001';
        END IF;
        RETURN NEW;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'append-only: an inventory count is never deleted (CSP R.5132-36)' USING ERRCODE = 'P0001';
    END IF;
    IF OLD.status = 'validated' THEN
        RAISE EXCEPTION 'append-only: a validated inventory cannot change (CSP R.5132-36)' USING ERRCODE = 'P0001';
    END IF;
    IF NEW.status <> OLD.status AND (OLD.status, NEW.status) NOT IN
            (('open', 'submitted'), ('submitted', 'open'), ('submitted', 'validated')) THEN
        RAISE EXCEPTION 'inventory: transition % -> % is not allowed', OLD.status, NEW.status USING ERRCODE = 'P0001';
    END IF;
    IF NEW.location_id <> OLD.location_id OR NEW.establishment_id <> OLD.establishment_id THEN
        RAISE EXCEPTION 'inventory: a count stays on its location' USING ERRCODE = 'P0001';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER operations_inventorycount_fsm BEFORE INSERT OR UPDATE OR DELETE ON operations_inventorycount
    FOR EACH ROW EXECUTE FUNCTION operations_inventorycount_fsm();
CREATE TRIGGER operations_inventorycount_no_truncate BEFORE TRUNCATE ON operations_inventorycount
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

CREATE OR REPLACE FUNCTION operations_inventoryline_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    parent_status text;
BEGIN
    -- Lock the count row (FOR SHARE): a line cannot slip in while validation freezes the count.
    SELECT status INTO parent_status FROM operations_inventorycount
        WHERE id = (CASE WHEN TG_OP = 'DELETE' THEN OLD.count_id ELSE NEW.count_id END) FOR SHARE;
    IF parent_status = 'validated' THEN
        RAISE EXCEPTION 'append-only: % on a line of a validated inventory is forbidden (CSP R.5132-36)', TG_OP
            USING ERRCODE = 'P0001';
    END IF;
    IF TG_OP = 'UPDATE' AND (NEW.count_id <> OLD.count_id OR NEW.lot_id <> OLD.lot_id) THEN
        RAISE EXCEPTION 'inventory: a line stays on its count and lot' USING ERRCODE = 'P0001';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER operations_inventorycountline_frozen BEFORE INSERT OR UPDATE OR DELETE ON operations_inventorycountline
    FOR EACH ROW EXECUTE FUNCTION operations_inventoryline_frozen();
CREATE TRIGGER operations_inventorycountline_no_truncate BEFORE TRUNCATE ON operations_inventorycountline
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
"""

INVENTORY_REVERSE = """
DROP TRIGGER IF EXISTS operations_inventorycountline_no_truncate ON operations_inventorycountline;
DROP TRIGGER IF EXISTS operations_inventorycountline_frozen ON operations_inventorycountline;
DROP FUNCTION IF EXISTS operations_inventoryline_frozen();
DROP TRIGGER IF EXISTS operations_inventorycount_no_truncate ON operations_inventorycount;
DROP TRIGGER IF EXISTS operations_inventorycount_fsm ON operations_inventorycount;
DROP FUNCTION IF EXISTS operations_inventorycount_fsm();
"""


class Migration(migrations.Migration):
    dependencies = [("operations", "0001_inventory_destruction_theft_ward"), ("register", "0002_append_only")]

    operations = [
        *[migrations.RunSQL(protect(table), unprotect(table)) for table in APPEND_ONLY],
        migrations.RunSQL(INVENTORY_SQL, INVENTORY_REVERSE),
    ]
