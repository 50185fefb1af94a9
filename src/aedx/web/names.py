"""Organisations by name: the portal shows an organisation's name with its code on hover
(``<abbr title="A383000000">財政部臺北國稅局</abbr>``), never the bare code.

A page's names are read once, on first use, from the organisations table; the Jinja filter
``organisation`` (registered in ``portal``) reads them from the page's context, so any template of
any area can write ``{{ row.sender | organisation }}``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from aedx.storage.tables import Organisation

CONTEXT_KEY = "organisation_names"


class Names:
    """Code → name of every organisation, read on first use (one query a page at most)."""

    def __init__(self, load: Callable[[], dict[str, str]]) -> None:
        self._load = load
        self._names: dict[str, str] | None = None

    def get(self, code: str) -> str | None:
        if self._names is None:
            self._names = self._load()
        return self._names.get(code)


def read(session: Session) -> dict[str, str]:
    return {code: name for code, name in session.execute(select(Organisation.code, Organisation.name))}


def shown(code: str | None, name: str | None) -> Markup:
    """The name with the code on hover; the code alone when the organisation is unknown."""
    if not code:
        return Markup("–")
    if not name:
        return Markup("{}").format(code)
    return Markup('<abbr title="{}">{}</abbr>').format(code, name)


@pass_context
def organisation(context: Context, code: str | None) -> Markup:
    """The Jinja filter: an organisation's code shown as its name, the code on hover."""
    names: Any = context.get(CONTEXT_KEY)
    return shown(code, names.get(code) if code and names is not None else None)
