"""Prescriptions are never deleted; lines and dispensations are append-only.

R.5132-35: a copy of the prescription is kept 3 years, so a cancellation is a status and a
DELETE is refused by the database. A cancelled prescription is never changed again. Lines and
dispensations justify register lines: like them, they are never updated nor deleted.
"""

from django.db import migrations

from register.migrations import _append_only_sql as sql

KEEP_PRESCRIPTIONS = """
CREATE OR REPLACE FUNCTION prescription_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR TG_OP = 'TRUNCATE' THEN
        RAISE EXCEPTION 'append-only: % on % is forbidden; a prescription is kept (CSP R.5132-35), cancel it instead',
            TG_OP, TG_TABLE_NAME USING ERRCODE = 'P0001';
    END IF;
    IF OLD.status = 'cancelled' THEN
        RAISE EXCEPTION 'append-only: a cancelled prescription (id %) cannot be changed', OLD.id
            USING ERRCODE = 'P0001';
    END IF;
    IF (NEW.establishment_id, NEW.prescriber_id, NEW.patient_id, NEW.secure_form_lot, NEW.declared_lines,
        NEW.issued_on, NEW.duration_days, NEW.ends_on, NEW.fraction_days, NEW.overlap_authorized, NEW.dosage_words)
       IS DISTINCT FROM
       (OLD.establishment_id, OLD.prescriber_id, OLD.patient_id, OLD.secure_form_lot, OLD.declared_lines,
        OLD.issued_on, OLD.duration_days, OLD.ends_on, OLD.fraction_days, OLD.overlap_authorized, OLD.dosage_words)
    THEN
        RAISE EXCEPTION 'append-only: what the prescriber wrote (prescription %) cannot be changed; only its status',
            OLD.id USING ERRCODE = 'P0001';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER prescriptions_secureprescription_append_only BEFORE UPDATE OR DELETE ON prescriptions_secureprescription
    FOR EACH ROW EXECUTE FUNCTION prescription_refuse_change();
CREATE TRIGGER prescriptions_secureprescription_no_truncate BEFORE TRUNCATE ON prescriptions_secureprescription
    FOR EACH STATEMENT EXECUTE FUNCTION prescription_refuse_change();
"""

UNKEEP_PRESCRIPTIONS = """
DROP TRIGGER IF EXISTS prescriptions_secureprescription_append_only ON prescriptions_secureprescription;
DROP TRIGGER IF EXISTS prescriptions_secureprescription_no_truncate ON prescriptions_secureprescription;
DROP FUNCTION IF EXISTS prescription_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("prescriptions", "0001_prescriptions_patients_dispensations"),
        ("register", "0002_append_only"),
    ]

    operations = [
        migrations.RunSQL(KEEP_PRESCRIPTIONS, UNKEEP_PRESCRIPTIONS),
        migrations.RunSQL(sql.protect("prescriptions_prescriptionline"), sql.unprotect("prescriptions_prescriptionline")),
        migrations.RunSQL(sql.protect("prescriptions_dispensation"), sql.unprotect("prescriptions_dispensation")),
    ]
