"""French by default, whatever the browser says (issue 7: French is the default locale).

Django's LocaleMiddleware follows the browser's Accept-Language, so a pharmacy PC set up in
English would show English pages to French staff. Here only an explicit choice (the FR/EN
switch, stored in the language cookie) changes the language.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.middleware.locale import LocaleMiddleware
from django.utils import translation


class FrenchFirstLocaleMiddleware(LocaleMiddleware):
    def process_request(self, request: HttpRequest) -> None:
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        language = chosen if chosen in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
