"""The French catalogue is complete and its compiled .mo (committed) matches the .po."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

LOCALE = Path(__file__).resolve().parents[2] / "locale"


def _po_entries(path: Path) -> list[tuple[str, list[str]]]:
    """(msgid, msgstrs) of each entry of a .po file, header excluded."""
    entries = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        fields: dict[str, str] = {}
        current = None
        for line in block.splitlines():
            match = re.match(r'^(msgid|msgid_plural|msgstr(?:\[\d\])?) "(.*)"$', line)
            if match:
                current = match.group(1)
                fields[current] = match.group(2)
            elif line.startswith('"') and current:
                fields[current] += line[1:-1]
        if fields.get("msgid"):
            unescape = lambda text: text.replace('\\"', '"').replace("\\n", "\n")  # noqa: E731
            strs = [unescape(v) for k, v in sorted(fields.items()) if k.startswith("msgstr")]
            entries.append((unescape(fields["msgid"]), strs))
    return entries


def test_every_french_message_is_translated_and_compiled() -> None:
    """Each msgid of locale/fr has a French text, and the committed .mo gives that same text."""
    po = LOCALE / "fr" / "LC_MESSAGES" / "django.po"
    with (LOCALE / "fr" / "LC_MESSAGES" / "django.mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    entries = _po_entries(po)
    assert len(entries) > 100
    for msgid, strs in entries:
        assert all(strs), f"untranslated: {msgid!r}"
        assert compiled.gettext(msgid) == strs[0] or len(strs) > 1, f"stale .mo for {msgid!r}"


def test_english_catalogue_is_compiled() -> None:
    """The English catalogue exists in compiled form (its texts are the source strings)."""
    assert (LOCALE / "en" / "LC_MESSAGES" / "django.mo").exists()


def test_pages_are_french_even_for_an_english_browser(client, demo):
    """Only the FR/EN switch changes the language, not the browser's Accept-Language."""
    page = client.get("/login/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert "Se connecter" in page.content.decode()
    client.cookies["django_language"] = "en"
    assert "Log in" in client.get("/login/").content.decode()
