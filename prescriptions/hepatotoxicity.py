"""Hepatotoxic-dose rules (DOMAIN.md §4; ANSM alert of 20 June 2017, ANSM 2023). Pure: no database.

Serious cholangitis-type liver injuries were reported with ketamine above 100 mg/day given
continuously, repeatedly or for 1 to 5 months, and with repeated burn-care infusions at
200-400 mg/h over 3-6 h. These figures describe reported cases, not validated limits: the
rules warn or block, and a pharmacist may override a block with a written justification.

Every dose here is in racemic-equivalent mg (mg x the substance's factor; esketamine x2). The
caller (``prescriptions.selectors``) turns prescriptions into ``Plan`` objects; this module turns
plans into a day-by-day timeline and the timeline into alerts. Thresholds come from
``settings.KETAMINE_RULES`` unless a ``Thresholds`` is given.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

HIGH_DAILY_DOSE = "HEPATO_HIGH_DAILY_DOSE"
SUSTAINED_HIGH_DOSE = "HEPATO_SUSTAINED_HIGH_DOSE"
PROLONGED_EXPOSURE = "HEPATO_PROLONGED_EXPOSURE"
BURN_CARE_SESSION = "HEPATO_BURN_CARE_SESSION"
BURN_CARE_REPEATED = "HEPATO_BURN_CARE_REPEATED"
IMPAIRED_PATIENT = "HEPATO_IMPAIRED_PATIENT"
DISPENSED_24H = "HEPATO_DISPENSED_24H"

WARNING = "warning"
BLOCKING = "blocking"

LIVER_TESTS_FR = "Bilan hépatique recommandé : transaminases, GGT, phosphatases alcalines (PAL), bilirubine."
LIVER_TESTS_EN = "Liver tests recommended: transaminases, GGT, alkaline phosphatase (ALP), bilirubin."


@dataclass(frozen=True)
class Thresholds:
    high_daily_dose_mg: Decimal = Decimal(100)
    sustained_days: int = 3
    prolonged_days: int = 28
    prolonged_window_days: int = 150
    burn_rate_mg_per_h: Decimal = Decimal(200)
    burn_min_hours: Decimal = Decimal(3)
    burn_repeat_count: int = 2
    burn_repeat_window_days: int = 7
    dispensed_24h_mg: Decimal = Decimal(100)

    @classmethod
    def from_rules(cls, rules: Mapping[str, Any]) -> Thresholds:
        return cls(
            high_daily_dose_mg=Decimal(str(rules["HIGH_DAILY_DOSE_MG"])),
            sustained_days=int(rules["SUSTAINED_HIGH_DOSE_DAYS"]),
            prolonged_days=int(rules["PROLONGED_EXPOSURE_DAYS"]),
            prolonged_window_days=int(rules["PROLONGED_EXPOSURE_WINDOW_DAYS"]),
            burn_rate_mg_per_h=Decimal(str(rules["BURN_CARE_RATE_MG_PER_H"])),
            burn_min_hours=Decimal(str(rules["BURN_CARE_MIN_HOURS"])),
            burn_repeat_count=int(rules["BURN_CARE_REPEAT_COUNT"]),
            burn_repeat_window_days=int(rules["BURN_CARE_REPEAT_WINDOW_DAYS"]),
            dispensed_24h_mg=Decimal(str(rules["DISPENSED_24H_MG"])),
        )

    @classmethod
    def from_settings(cls) -> Thresholds:
        from django.conf import settings  # settings only, never the database

        return cls.from_rules(settings.KETAMINE_RULES)


@dataclass(frozen=True)
class Infusion:
    """An infusion line, racemic-equivalent: rate (mg/h) for hours per day."""

    rate_mg_per_h: Decimal
    hours_per_day: Decimal


@dataclass(frozen=True)
class Plan:
    """One prescription as the rules see it: the days it covers and what it plans each day."""

    first_day: dt.date
    last_day: dt.date
    daily_mg: Decimal  # racemic-equivalent, all lines summed
    infusions: tuple[Infusion, ...] = ()

    def days(self) -> Iterable[dt.date]:
        day = self.first_day
        while day <= self.last_day:
            yield day
            day += dt.timedelta(days=1)


@dataclass(frozen=True)
class BurnSession:
    day: dt.date
    rate_mg_per_h: Decimal
    hours: Decimal


@dataclass
class Timeline:
    daily_mg: dict[dt.date, Decimal] = field(default_factory=dict)
    burn_sessions: list[BurnSession] = field(default_factory=list)

    def as_list(self) -> list[dict[str, Any]]:
        return [{"day": day.isoformat(), "racemic_mg": fmt(mg)} for day, mg in sorted(self.daily_mg.items())]


@dataclass(frozen=True)
class Alert:
    code: str
    severity: str
    message: str  # French (the users' language)
    message_en: str

    @property
    def blocking(self) -> bool:
        return self.severity == BLOCKING

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "severity": self.severity, "message": self.message, "message_en": self.message_en}


def is_burn_session(infusion: Infusion, thresholds: Thresholds) -> bool:
    return infusion.rate_mg_per_h >= thresholds.burn_rate_mg_per_h and infusion.hours_per_day >= thresholds.burn_min_hours


def build_timeline(plans: Iterable[Plan], thresholds: Thresholds) -> Timeline:
    """Sum the plans day by day; every day of a burn-care infusion line is one session."""
    timeline = Timeline()
    for plan in plans:
        sessions = [infusion for infusion in plan.infusions if is_burn_session(infusion, thresholds)]
        for day in plan.days():
            timeline.daily_mg[day] = timeline.daily_mg.get(day, Decimal(0)) + plan.daily_mg
            timeline.burn_sessions.extend(BurnSession(day, s.rate_mg_per_h, s.hours_per_day) for s in sessions)
    return timeline


def fmt(value: Decimal | int) -> str:
    number = Decimal(value).normalize()
    return f"{number:f}"


def _densest_window(days: Sequence[dt.date], window: int, focus: tuple[dt.date, dt.date] | None) -> tuple[int, dt.date | None]:
    """Most events (``days``, sorted, repeats allowed) in a window of ``window`` days that
    reaches the focus period; returns (count, window start).

    Slide a best window right until its first day is an event or it would leave the focus: so
    the candidates are the windows starting on an event, plus the one starting on the focus's
    last day.
    """
    best, best_start = 0, None
    span = dt.timedelta(days=window - 1)
    candidates = list(dict.fromkeys(days))
    if focus is not None:
        candidates.append(focus[1])
    for start in candidates:
        end = start + span
        if focus is not None and (end < focus[0] or start > focus[1]):
            continue
        count = bisect.bisect_right(days, end) - bisect.bisect_left(days, start)
        if count > best:
            best, best_start = count, start
    return best, best_start


def _longest_run(high_days: Sequence[dt.date], focus: tuple[dt.date, dt.date] | None) -> tuple[int, dt.date | None]:
    """Longest run of consecutive high-dose days that touches the focus period."""
    best, best_start = 0, None
    run_start: dt.date | None = None
    previous: dt.date | None = None
    for day in [*high_days, None]:
        if day is not None and previous is not None and day == previous + dt.timedelta(days=1):
            previous = day
            continue
        if run_start is not None and previous is not None:
            length = (previous - run_start).days + 1
            touches = focus is None or not (previous < focus[0] or run_start > focus[1])
            if touches and length > best:
                best, best_start = length, run_start
        run_start = previous = day
    return best, best_start


def evaluate(
    *,
    hepatic_impairment: bool,
    timeline: Timeline,
    checked_daily_mg: Decimal | None = None,
    checked_infusions: Sequence[Infusion] = (),
    focus: tuple[dt.date, dt.date] | None = None,
    dispensed_24h_mg: Decimal | None = None,
    thresholds: Thresholds | None = None,
) -> list[Alert]:
    """The alerts of DOMAIN.md §4 for this timeline.

    ``focus`` is the period of the prescription being checked: a run, window or session counts
    when it reaches that period (an old episode alone does not block today's care). ``None``
    looks at the whole timeline. ``checked_daily_mg`` is the checked prescription's planned
    daily dose; ``dispensed_24h_mg`` the mg dispensed in the last 24 h, this dispensation included.
    """
    t = thresholds or Thresholds.from_settings()
    limit = fmt(t.high_daily_dose_mg)
    alerts: list[Alert] = []
    high_days = sorted(day for day, mg in timeline.daily_mg.items() if mg > t.high_daily_dose_mg)

    if checked_daily_mg is not None and checked_daily_mg > t.high_daily_dose_mg:
        mg = fmt(checked_daily_mg)
        alerts.append(Alert(
            HIGH_DAILY_DOSE, WARNING,
            f"Dose journalière élevée (alerte ANSM 2017) : {mg} mg/j en équivalent kétamine racémique prévus "
            f"par cette ordonnance, au-delà de {limit} mg/j.",
            f"High daily dose (ANSM 2017 alert): {mg} mg/day racemic-equivalent planned by this prescription, "
            f"above {limit} mg/day.",
        ))

    run, run_start = _longest_run(high_days, focus)
    if run >= t.sustained_days and run_start is not None:
        alerts.append(Alert(
            SUSTAINED_HIGH_DOSE, WARNING,
            f"Doses élevées continues (alerte ANSM 2017) : {run} jours consécutifs au-delà de {limit} mg/j "
            f"en équivalent racémique à partir du {run_start:%d/%m/%Y} (seuil : {t.sustained_days} jours).",
            f"Sustained high doses (ANSM 2017 alert): {run} consecutive days above {limit} mg/day "
            f"racemic-equivalent from {run_start.isoformat()} (threshold: {t.sustained_days} days).",
        ))

    count, window_start = _densest_window(high_days, t.prolonged_window_days, focus)
    if count >= t.prolonged_days and window_start is not None:
        alerts.append(Alert(
            PROLONGED_EXPOSURE, BLOCKING,
            f"Exposition prolongée (alerte ANSM 2017, atteintes hépatiques graves après 1 à 5 mois) : {count} jours "
            f"au-delà de {limit} mg/j en équivalent racémique sur {t.prolonged_window_days} jours à partir du "
            f"{window_start:%d/%m/%Y} (seuil : {t.prolonged_days} jours). {LIVER_TESTS_FR}",
            f"Prolonged exposure (ANSM 2017 alert, serious liver injury after 1 to 5 months): {count} days above "
            f"{limit} mg/day racemic-equivalent within {t.prolonged_window_days} days from {window_start.isoformat()} "
            f"(threshold: {t.prolonged_days} days). {LIVER_TESTS_EN}",
        ))

    burn_rate, burn_hours = fmt(t.burn_rate_mg_per_h), fmt(t.burn_min_hours)
    for infusion in checked_infusions:
        if is_burn_session(infusion, t):
            rate, hours = fmt(infusion.rate_mg_per_h), fmt(infusion.hours_per_day)
            alerts.append(Alert(
                BURN_CARE_SESSION, WARNING,
                f"Séance de soins de brûlés (alerte ANSM 2017) : perfusion de {rate} mg/h pendant {hours} h en "
                f"équivalent racémique (seuil : {burn_rate} mg/h pendant {burn_hours} h).",
                f"Burn-care session (ANSM 2017 alert): infusion at {rate} mg/h for {hours} h racemic-equivalent "
                f"(threshold: {burn_rate} mg/h for {burn_hours} h).",
            ))
            break

    session_days = sorted(session.day for session in timeline.burn_sessions)
    sessions, sessions_start = _densest_window(session_days, t.burn_repeat_window_days, focus)
    if sessions >= t.burn_repeat_count and sessions_start is not None:
        alerts.append(Alert(
            BURN_CARE_REPEATED, BLOCKING,
            f"Séances de soins de brûlés répétées (alerte ANSM 2017) : {sessions} séances à au moins {burn_rate} mg/h "
            f"pendant {burn_hours} h sur {t.burn_repeat_window_days} jours à partir du {sessions_start:%d/%m/%Y} "
            f"(seuil : {t.burn_repeat_count}). {LIVER_TESTS_FR}",
            f"Repeated burn-care sessions (ANSM 2017 alert): {sessions} sessions at >= {burn_rate} mg/h for "
            f"{burn_hours} h within {t.burn_repeat_window_days} days from {sessions_start.isoformat()} "
            f"(threshold: {t.burn_repeat_count}). {LIVER_TESTS_EN}",
        ))

    if hepatic_impairment:
        planned = [day for day in high_days if focus is None or focus[0] <= day <= focus[1]]
        if planned:
            peak = fmt(max(timeline.daily_mg[day] for day in planned))
            alerts.append(Alert(
                IMPAIRED_PATIENT, BLOCKING,
                f"Patient avec atteinte hépatique connue (alerte ANSM 2017) : {len(planned)} jour(s) prévu(s) au-delà "
                f"de {limit} mg/j en équivalent racémique (jusqu'à {peak} mg/j). {LIVER_TESTS_FR}",
                f"Patient with known hepatic impairment (ANSM 2017 alert): {len(planned)} planned day(s) above "
                f"{limit} mg/day racemic-equivalent (up to {peak} mg/day). {LIVER_TESTS_EN}",
            ))

    if dispensed_24h_mg is not None and dispensed_24h_mg > t.dispensed_24h_mg:
        mg, cap = fmt(dispensed_24h_mg), fmt(t.dispensed_24h_mg)
        alerts.append(Alert(
            DISPENSED_24H, WARNING,
            f"Quantité dispensée sur 24 h (alerte ANSM 2017) : {mg} mg en équivalent racémique dispensés à ce "
            f"patient sur les dernières 24 h, cette dispensation comprise (seuil : {cap} mg).",
            f"Dispensed in 24 h (ANSM 2017 alert): {mg} mg racemic-equivalent dispensed to this patient in the "
            f"last 24 h, this dispensation included (threshold: {cap} mg).",
        ))
    return alerts
