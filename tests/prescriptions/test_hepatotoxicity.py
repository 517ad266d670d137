"""The pure hepatotoxic rule module (DOMAIN.md §4): every code at, just under and just over its threshold."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from prescriptions import hepatotoxicity as hepato
from prescriptions.hepatotoxicity import Infusion, Plan, Thresholds

T = Thresholds()  # DOMAIN.md's defaults
D0 = dt.date(2026, 3, 1)
RACEMIC, ESKETAMINE = Decimal("1"), Decimal("2")


def day(n: int) -> dt.date:
    return D0 + dt.timedelta(days=n)


def plan(first: int, days: int, mg: str | int, factor: Decimal = RACEMIC, infusions: tuple[Infusion, ...] = ()) -> Plan:
    """A prescription of ``mg`` per day of a substance with ``factor``, from day ``first`` for ``days`` days."""
    return Plan(day(first), day(first + days - 1), Decimal(mg) * factor, infusions)


def codes(plans: list[Plan], *, checked: Plan | None = None, impaired: bool = False,
          dispensed_24h: str | None = None) -> dict[str, str]:
    checked = checked or plans[-1]
    alerts = hepato.evaluate(
        hepatic_impairment=impaired,
        timeline=hepato.build_timeline(plans, T),
        checked_daily_mg=checked.daily_mg,
        checked_infusions=checked.infusions,
        focus=(checked.first_day, checked.last_day),
        dispensed_24h_mg=Decimal(dispensed_24h) if dispensed_24h is not None else None,
        thresholds=T,
    )
    return {alert.code: alert.severity for alert in alerts}


@pytest.mark.parametrize(
    ("mg", "factor", "alerted"),
    [
        ("99", RACEMIC, False), ("100", RACEMIC, False), ("101", RACEMIC, True),
        ("49.5", ESKETAMINE, False), ("50", ESKETAMINE, False), ("50.5", ESKETAMINE, True),
    ],
)
def test_high_daily_dose(mg, factor, alerted):
    """HEPATO_HIGH_DAILY_DOSE (warning) above 100 mg/day racemic-equivalent, esketamine counting double."""
    found = codes([plan(0, 1, mg, factor)])
    assert (found.get(hepato.HIGH_DAILY_DOSE) == "warning") is alerted


@pytest.mark.parametrize(
    ("days", "mg", "factor", "alerted"),
    [
        (2, "101", RACEMIC, False), (3, "101", RACEMIC, True), (4, "101", RACEMIC, True),
        (3, "100", RACEMIC, False), (3, "50.5", ESKETAMINE, True), (2, "50.5", ESKETAMINE, False),
    ],
)
def test_sustained_high_dose(days, mg, factor, alerted):
    """HEPATO_SUSTAINED_HIGH_DOSE (warning) from 3 consecutive high-dose days."""
    found = codes([plan(0, days, mg, factor)])
    assert (found.get(hepato.SUSTAINED_HIGH_DOSE) == "warning") is alerted


def test_sustained_counts_the_sum_of_several_prescriptions():
    """Two prescriptions of 60 mg/day over the same 3 days make 3 high-dose days."""
    assert hepato.SUSTAINED_HIGH_DOSE in codes([plan(0, 3, 60), plan(0, 3, 60)])
    assert hepato.SUSTAINED_HIGH_DOSE not in codes([plan(0, 3, 50), plan(0, 3, 50)])


@pytest.mark.parametrize(
    ("high_days", "mg", "factor", "alerted"),
    [
        (27, "101", RACEMIC, False), (28, "101", RACEMIC, True), (29, "101", RACEMIC, True),
        (28, "100", RACEMIC, False), (28, "51", ESKETAMINE, True), (27, "51", ESKETAMINE, False),
    ],
)
def test_prolonged_exposure(high_days, mg, factor, alerted):
    """HEPATO_PROLONGED_EXPOSURE (blocking) from 28 high-dose days within 150 days."""
    found = codes([plan(0, high_days, mg, factor)])
    assert (found.get(hepato.PROLONGED_EXPOSURE) == "blocking") is alerted


@pytest.mark.parametrize(("gap_end", "alerted"), [(149, True), (150, False)])
def test_prolonged_exposure_counts_days_that_are_not_continuous(gap_end, alerted):
    """14 high days then 14 more ending on day ``gap_end``: blocking only if all fit in 150 days."""
    found = codes([plan(0, 14, 150), plan(gap_end - 13, 14, 150)])
    assert (found.get(hepato.PROLONGED_EXPOSURE) == "blocking") is alerted


def test_prolonged_exposure_names_the_liver_tests():
    """A blocking message recommends transaminases, GGT, ALP and bilirubin, in French and English."""
    alert = next(a for a in hepato.evaluate(
        hepatic_impairment=False, timeline=hepato.build_timeline([plan(0, 30, 150)], T), thresholds=T,
    ) if a.code == hepato.PROLONGED_EXPOSURE)
    for word in ("transaminases", "GGT", "bilirubine", "30 jours", "100 mg/j"):
        assert word in alert.message
    for word in ("transaminases", "GGT", "ALP", "bilirubin", "30 days"):
        assert word in alert.message_en


@pytest.mark.parametrize(
    ("rate", "hours", "factor", "alerted"),
    [
        ("199", "3", RACEMIC, False), ("200", "3", RACEMIC, True), ("201", "3", RACEMIC, True),
        ("200", "2.9", RACEMIC, False), ("400", "6", RACEMIC, True),
        ("100", "3", ESKETAMINE, True), ("99.5", "3", ESKETAMINE, False),
    ],
)
def test_burn_care_session(rate, hours, factor, alerted):
    """HEPATO_BURN_CARE_SESSION (warning) for an infusion >= 200 mg/h for >= 3 h."""
    infusion = Infusion(Decimal(rate) * factor, Decimal(hours))
    checked = Plan(day(0), day(0), infusion.rate_mg_per_h * infusion.hours_per_day, (infusion,))
    assert (codes([checked]).get(hepato.BURN_CARE_SESSION) == "warning") is alerted


@pytest.mark.parametrize(
    ("second_day", "rate", "factor", "alerted"),
    [
        (6, "200", RACEMIC, True), (7, "200", RACEMIC, False), (1, "199", RACEMIC, False),
        (6, "100", ESKETAMINE, True), (7, "100", ESKETAMINE, False),
    ],
)
def test_burn_care_repeated(second_day, rate, factor, alerted):
    """HEPATO_BURN_CARE_REPEATED (blocking): 2 sessions within 7 days."""
    infusion = (Infusion(Decimal(rate) * factor, Decimal(3)),)
    first = Plan(day(0), day(0), Decimal(600), infusion)
    second = Plan(day(second_day), day(second_day), Decimal(600), infusion)
    assert (codes([first, second]).get(hepato.BURN_CARE_REPEATED) == "blocking") is alerted


def test_a_two_day_burn_care_prescription_is_two_sessions():
    """Every day of a burn-care infusion line is a session: 2 days is already repeated."""
    infusion = (Infusion(Decimal(250), Decimal(4)),)
    assert codes([Plan(day(0), day(1), Decimal(1000), infusion)]).get(hepato.BURN_CARE_REPEATED) == "blocking"


@pytest.mark.parametrize(
    ("impaired", "mg", "factor", "alerted"),
    [
        (True, "101", RACEMIC, True), (True, "100", RACEMIC, False), (True, "99", RACEMIC, False),
        (False, "101", RACEMIC, False), (True, "50.5", ESKETAMINE, True), (True, "50", ESKETAMINE, False),
    ],
)
def test_impaired_patient(impaired, mg, factor, alerted):
    """HEPATO_IMPAIRED_PATIENT (blocking): known hepatic impairment and any planned high-dose day."""
    found = codes([plan(0, 1, mg, factor)], impaired=impaired)
    assert (found.get(hepato.IMPAIRED_PATIENT) == "blocking") is alerted


@pytest.mark.parametrize(("mg", "alerted"), [("99", False), ("100", False), ("100.5", True)])
def test_dispensed_in_24h(mg, alerted):
    """HEPATO_DISPENSED_24H (warning) above 100 mg dispensed in 24 h, this dispensation included."""
    found = codes([plan(0, 1, 50)], dispensed_24h=mg)
    assert (found.get(hepato.DISPENSED_24H) == "warning") is alerted


def test_an_old_episode_alone_does_not_alert_a_new_prescription():
    """A sustained run 60 days before does not touch the checked prescription's period."""
    found = codes([plan(0, 5, 150), plan(60, 3, 50)], checked=plan(60, 3, 50))
    assert hepato.SUSTAINED_HIGH_DOSE not in found


def test_no_alert_for_an_ordinary_prescription():
    """50 mg/day for 7 days, no impairment: no alert."""
    assert codes([plan(0, 7, 50)], dispensed_24h="50") == {}


def test_thresholds_come_from_settings(settings):
    """A lower HIGH_DAILY_DOSE_MG in KETAMINE_RULES moves the threshold."""
    settings.KETAMINE_RULES = {**settings.KETAMINE_RULES, "HIGH_DAILY_DOSE_MG": 40}
    alerts = hepato.evaluate(hepatic_impairment=False, timeline=hepato.Timeline(), checked_daily_mg=Decimal(50))
    assert [a.code for a in alerts] == [hepato.HIGH_DAILY_DOSE]


_plans = st.lists(
    st.builds(
        lambda first, days, mg, burn: plan(first, days, mg, infusions=(Infusion(Decimal(250), Decimal(4)),) if burn else ()),
        st.integers(min_value=-200, max_value=30),
        st.integers(min_value=1, max_value=28),
        st.integers(min_value=10, max_value=300),
        st.booleans(),
    ),
    max_size=8,
)


@hypothesis_settings(max_examples=200, deadline=None)
@given(
    dispensed=_plans,
    newly_dispensed=_plans.filter(bool).map(lambda plans: plans[0]),
    checked=st.builds(lambda days, mg: plan(0, days, mg), st.integers(1, 28), st.integers(10, 300)),
    impaired=st.booleans(),
    dispensed_24h=st.integers(min_value=0, max_value=300),
    extra_mg=st.integers(min_value=1, max_value=300),
)
def test_adding_a_dispensation_never_removes_a_blocking_alert(dispensed, newly_dispensed, checked, impaired,
                                                               dispensed_24h, extra_mg):
    """Property: one more dispensed prescription (and its mg in the last 24 h) keeps every blocking alert."""

    def blocking(plans: list[Plan], mg_24h: int) -> set[str]:
        alerts = hepato.evaluate(
            hepatic_impairment=impaired, timeline=hepato.build_timeline([*plans, checked], T),
            checked_daily_mg=checked.daily_mg, checked_infusions=checked.infusions,
            focus=(checked.first_day, checked.last_day), dispensed_24h_mg=Decimal(mg_24h), thresholds=T,
        )
        return {a.code for a in alerts if a.blocking}

    before = blocking(dispensed, dispensed_24h)
    after = blocking([*dispensed, newly_dispensed], dispensed_24h + extra_mg)
    assert before <= after
