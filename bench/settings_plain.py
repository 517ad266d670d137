"""The project's settings plus the baseline app of bench/append.py (never used outside bench/)."""

from config.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "bench.plainapp"]  # noqa: F405
ROOT_URLCONF = "bench.plainapp.urls"
