"""The headless Chromium of the browser journeys (Debian's package, never `playwright install`),
shared by every browser test module of tests/web."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # Playwright's sync API runs an event loop in this thread; the ORM calls of the test body are
    # still plain synchronous calls, so Django's async-safety guard is switched off for them.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, committed_db: Any, demo: Any, live_server: Any) -> Iterator[Any]:
    """A fresh French browser tab on the running app, at tablet size (the pharmacy counter)."""
    context = browser.new_context(locale="fr-FR", viewport={"width": 1180, "height": 820}, timezone_id="Europe/Paris")
    tab = context.new_page()
    tab.set_default_timeout(15000)
    tab.base = live_server.url
    # Every journey doubles as a Content-Security-Policy check: a page that needs an inline
    # script or style, or a resource from elsewhere, logs a refusal here and fails its test.
    refusals: list[str] = []
    tab.on("console", lambda message: refusals.append(message.text) if "Content Security Policy" in message.text else None)
    ARTIFACTS.mkdir(exist_ok=True)
    yield tab
    context.close()
    assert not refusals, f"the page broke its Content-Security-Policy: {refusals}"
