"""Serializer fields shared by the apps."""

from __future__ import annotations

import datetime as dt

from rest_framework import serializers


class SafeDateTimeField(serializers.DateTimeField):
    """DRF's DateTimeField, with year-1 naive input refused as 400 instead of crashing.

    DRF checks a naive datetime made aware by converting it to UTC; for 0001-01-01 in
    Europe/Paris (UTC+0:09 before 1911) that conversion overflows and DRF lets the
    OverflowError escape as a 500 (found by tests/reliability). Use it for every input datetime.
    """

    def enforce_timezone(self, value: dt.datetime) -> dt.datetime:
        try:
            return super().enforce_timezone(value)
        except OverflowError:
            self.fail("overflow")
            raise  # unreachable: fail() raises
