"""Translations: gettext catalogues kept as ``.po`` files under ``translations/`` and read with
Babel at start-up (no compiled ``.mo`` files in the repository). Each area of the portal keeps its
own file (``messages.po`` for the foundation, ``<area>.po`` for the others); they are merged into
one catalogue per locale. The source strings are English;
Traditional Chinese (zh-TW) is the default. A ``lang`` cookie, set by the language switch, wins
over the browser's ``Accept-Language``."""

from __future__ import annotations

import functools
import gettext as gnu
import io
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

HERE = Path(__file__).parent
CATALOGUES = HERE / "translations"
DOMAIN = "messages"
DEFAULT = "zh_TW"
LANGUAGES = {"zh_TW": "zh-Hant-TW", "en": "en"}  # locale -> the HTML lang attribute
COOKIE = "lang"


def N_(message: str) -> str:  # the gettext convention for "translate later"
    """Marks a string for extraction; it is translated where it is shown."""
    return message


def catalogue(locale: str) -> Catalog:
    """Every area's messages of the locale as one catalogue; a msgid in two files is an error."""
    merged: Catalog | None = None
    for path in sorted((CATALOGUES / locale / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as f:
            part = read_po(f, locale=locale, domain=DOMAIN)
        if merged is None:
            merged = part
            continue
        for message in part:
            if message.id and merged.get(message.id) is not None:
                raise ValueError(f"{path.name}: {message.id!r} is translated in another catalogue too")
            if message.id:
                merged[message.id] = message
    if merged is None:
        raise FileNotFoundError(f"no catalogue for {locale}")
    return merged


@functools.cache
def translations(locale: str) -> gnu.NullTranslations:
    """The locale's catalogue as gettext translations; untranslated strings stay English."""
    if locale not in LANGUAGES:
        locale = DEFAULT
    buffer = io.BytesIO()
    write_mo(buffer, catalogue(locale))
    buffer.seek(0)
    return gnu.GNUTranslations(buffer)


def _cookie_locale(value: str | None) -> str | None:
    if not value:
        return None
    value = value.replace("-", "_")
    if value in LANGUAGES:
        return value
    return "zh_TW" if value.lower().startswith("zh") else None


def negotiate(cookie: str | None, accept_language: str | None) -> str:
    """The locale of a request: the explicit choice (cookie) first, then the browser's most
    preferred of ours, else zh-TW."""
    chosen = _cookie_locale(cookie)
    if chosen is not None:
        return chosen
    best: tuple[float, str] | None = None
    for part in (accept_language or "").split(",")[:20]:
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        tag = tag.strip().lower()
        found = "zh_TW" if tag.startswith("zh") else "en" if tag.startswith("en") else None
        if found is not None and quality > 0 and (best is None or quality > best[0]):
            best = (quality, found)
    return best[1] if best is not None else DEFAULT
