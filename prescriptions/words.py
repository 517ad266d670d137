"""Doses in full letters (CSP R.5132-29: units per dose, number of doses and strength in letters).

Generated from the structured values with num2words, never typed by hand, so the words and the
figures cannot disagree.
"""

from __future__ import annotations

from decimal import Decimal

from num2words import num2words


def number_words(value: Decimal | int, *, feminine: bool = False) -> str:
    number = Decimal(value).normalize()
    if number == number.to_integral_value():
        words = str(num2words(int(number), lang="fr"))
        if feminine and (words == "un" or words.endswith(" et un")):
            words = words[:-2] + "une"
        return words
    return str(num2words(number, lang="fr"))


def _plural(value: Decimal | int, singular: str, plural: str) -> str:
    return singular if Decimal(value) < 2 else plural


def mg_words(value: Decimal | int) -> str:
    return f"{number_words(value)} {_plural(value, 'milligramme', 'milligrammes')}"


def bolus_words(*, dose_mg: Decimal, doses_per_day: int) -> str:
    """e.g. "cinquante milligrammes, deux fois par jour"."""
    return f"{mg_words(dose_mg)}, {number_words(doses_per_day, feminine=True)} fois par jour"


def infusion_words(*, rate_mg_per_h: Decimal, hours_per_day: Decimal) -> str:
    """e.g. "deux cents milligrammes par heure, pendant quatre heures par jour"."""
    hours = f"{number_words(hours_per_day, feminine=True)} {_plural(hours_per_day, 'heure', 'heures')}"
    return f"{mg_words(rate_mg_per_h)} par heure, pendant {hours} par jour"


def strength_words(*, mg_per_unit: Decimal, ml_per_unit: Decimal, unit_label: str) -> str:
    """e.g. "ampoule de cinquante milligrammes pour cinq millilitres"."""
    ml = f"{number_words(ml_per_unit)} {_plural(ml_per_unit, 'millilitre', 'millilitres')}"
    return f"{unit_label} de {mg_words(mg_per_unit)} pour {ml}"


def duration_words(days: int) -> str:
    return f"pendant {number_words(days)} {_plural(days, 'jour', 'jours')}"
