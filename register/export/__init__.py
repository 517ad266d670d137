"""Exports of the register (PDF, CSV) and the audit event that records each one."""
