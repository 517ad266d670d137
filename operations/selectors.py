"""Reads of the workflows, always scoped to the caller's establishments."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, QuerySet

from config.permissions import READ_REGISTER, has_role
from operations.models import (
    DestructionRecord,
    InventoryCount,
    NurseWardAssignment,
    TheftLossReport,
    TheftLossReportStep,
    WardReturn,
)
from register.models import Location, Movement, StockBalance
from register.selectors import establishments_for


def inventories_for(user: Any) -> QuerySet[InventoryCount]:
    return InventoryCount.objects.filter(establishment__in=establishments_for(user)).select_related(
        "location", "establishment", "opened_by", "submitted_by", "validated_by"
    )


def destructions_for(user: Any) -> QuerySet[DestructionRecord]:
    return (
        DestructionRecord.objects.filter(establishment__in=establishments_for(user))
        .select_related("establishment", "location")
        .prefetch_related("lines__movement", "lines__lot__product")
        .defer("pdf")
    )


def theft_loss_reports_for(user: Any) -> QuerySet[TheftLossReport]:
    return (
        TheftLossReport.objects.filter(establishment__in=establishments_for(user))
        .select_related("movement__lot", "movement__location", "establishment")
        .prefetch_related("steps")
    )


def theft_loss_reports_incomplete(queryset: QuerySet[TheftLossReport]) -> QuerySet[TheftLossReport]:
    """Reports still missing a declaration (police, ARS or ANSM): the dashboard lists them."""
    return queryset.annotate(done=Count("steps__step", distinct=True)).filter(
        done__lt=len(TheftLossReportStep.Step.values)
    )


def wards_for(user: Any) -> QuerySet[Location]:
    """The wards a user may see: all of their establishments' for pharmacy staff and inspectors,
    the assigned ones for a nurse."""
    wards = Location.objects.filter(establishment__in=establishments_for(user), kind=Location.Kind.WARD)
    if has_role(user, *READ_REGISTER):
        return wards
    if not getattr(user, "is_authenticated", False):
        return wards.none()
    return wards.filter(pk__in=NurseWardAssignment.objects.filter(nurse=user).values("ward_id"))


def ward_stock(ward: Location) -> QuerySet[StockBalance]:
    return StockBalance.objects.filter(location=ward, on_hand__gt=0).select_related("lot__product", "location")


def ward_movements(ward: Location) -> QuerySet[Movement]:
    """The ward's own register view: its lines, in order-number order."""
    return Movement.objects.filter(location=ward).select_related(
        "lot__product", "location", "establishment", "reverses", "paired_with"
    ).order_by("number")


def ward_returns_for(user: Any) -> QuerySet[WardReturn]:
    returns = WardReturn.objects.filter(establishment__in=establishments_for(user)).select_related("ward", "lot")
    if has_role(user, *READ_REGISTER):
        return returns
    return returns.filter(ward__in=wards_for(user))
