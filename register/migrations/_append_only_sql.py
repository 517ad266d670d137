"""SQL for append-only tables, shared by the migrations of every ledger-like table."""

FUNCTION = """
CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'append-only: % on % is forbidden; a correction is a new line (CSP R.5132-36)',
        TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'P0001', HINT = 'Write a reversal line instead.';
END;
$$;
"""


def protect(table: str) -> str:
    return f"""
    CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
        FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
    CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
        FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
    """


def unprotect(table: str) -> str:
    return f"""
    DROP TRIGGER IF EXISTS {table}_append_only ON {table};
    DROP TRIGGER IF EXISTS {table}_no_truncate ON {table};
    """

