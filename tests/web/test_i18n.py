"""Every string the portal shows has a zh-TW translation; the catalogues load; the locale is the
explicit choice first, then the browser's, then zh-TW."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir

from aedx.web import i18n

METHODS = [("**.py", "python"), ("templates/**.html", "jinja2.ext:babel_extract")]


def msgids(folder: Path) -> set[str]:
    """The msgids used in the web package's code (``_``, ``gettext``, ``N_``) and templates
    (``_()`` and ``{% trans %}``)."""
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(str(folder), method_map=METHODS):
        found.add(message if isinstance(message, str) else message[0])  # a plural by its singular
    return found


def untranslated(folder: Path, locale: str) -> list[str]:
    catalogue = i18n.catalogue(locale)
    missing = []
    for message in sorted(msgids(folder)):
        entry = catalogue.get(message)
        if entry is None or not entry.string or entry.fuzzy:
            missing.append(message)
    return missing


def test_every_portal_string_has_a_traditional_chinese_translation() -> None:
    used = msgids(i18n.HERE)
    assert len(used) > 40 and "Sign in" in used and "Rejected" in used  # code and templates both read
    assert untranslated(i18n.HERE, "zh_TW") == []


def test_the_check_finds_a_string_without_translation(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "new.html").write_text(
        '<p>{{ _("Sign in") }}</p><p>{% trans %}A page nobody translated{% endtrans %}</p>'
    )
    (tmp_path / "new.py").write_text(
        'from aedx.web.i18n import N_\nLABEL = N_("A label nobody translated")\n'
    )
    assert untranslated(tmp_path, "zh_TW") == ["A label nobody translated", "A page nobody translated"]


def test_catalogues_translate_and_english_falls_back_to_the_source() -> None:
    assert i18n.translations("zh_TW").gettext("Sign out") == "登出"
    assert i18n.translations("en").gettext("Sign out") == "Sign out"
    assert i18n.translations("xx").gettext("Sign out") == "登出"  # unknown: the default


def test_the_locale_is_the_choice_then_the_browser_then_traditional_chinese() -> None:
    assert i18n.negotiate(None, None) == "zh_TW"
    assert i18n.negotiate(None, "en-US,en;q=0.9") == "en"
    assert i18n.negotiate(None, "fr-FR, en;q=0.5, zh-TW;q=0.8") == "zh_TW"
    assert i18n.negotiate("zh_TW", "en-US") == "zh_TW"  # an explicit choice wins
    assert i18n.negotiate("en", "zh-TW") == "en"
    assert i18n.negotiate("klingon", "de-DE") == "zh_TW"


def test_english_counts_say_one_thing_and_two_things() -> None:
    en, zh = i18n.translations("en"), i18n.translations("zh_TW")
    one, many = "%(n)d matching case, newest first", "%(n)d matching cases, newest first"
    assert en.ngettext(one, many, 1) % {"n": 1} == "1 matching case, newest first"
    assert en.ngettext(one, many, 2) % {"n": 2} == "2 matching cases, newest first"
    assert zh.ngettext(one, many, 1) % {"n": 1} == "符合之案件共 1 件，新者在前"
    assert zh.ngettext(one, many, 2) % {"n": 2} == "符合之案件共 2 件，新者在前"
    assert "msgid_plural" in (i18n.CATALOGUES / "zh_TW" / "LC_MESSAGES" / "exchange.po").read_text()
