"""Logs never carry an obligor's ID in clear: a logging filter masks national and resident IDs
(A12****789) and business IDs that pass their checksum (12****75) in every message, its
arguments and any exception text, before a handler writes them.

``install()`` puts the filter on the handlers that exist when it is called: the root logger's and
the server's (uvicorn); the commands that start the API and the worker call it after setting up
logging, and the application again when it starts (uvicorn configures its own handlers first).
"""

from __future__ import annotations

import logging
import re

from aedx.validation.ids import is_valid_ubn
from aedx.validation.masking import mask_id

PERSON_ID = re.compile(r"(?<![A-Za-z0-9])[A-Za-z][1289A-Da-d][0-9]{8}(?![A-Za-z0-9])")
UBN = re.compile(r"(?<![A-Za-z0-9.,])[0-9]{8}(?![A-Za-z0-9]|[.,][0-9])")
LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access")


def redact(text: str) -> str:
    """The text with every ID in it masked."""
    text = PERSON_ID.sub(lambda m: mask_id(m.group()), text)
    return UBN.sub(lambda m: mask_id(m.group()) if is_valid_ubn(m.group()) else m.group(), text)


class PersonalDataFilter(logging.Filter):
    """Masks IDs in the record; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install() -> None:
    """Put the filter on every handler of the root and server loggers (once each)."""
    for name in LOGGERS:
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, PersonalDataFilter) for f in handler.filters):
                handler.addFilter(PersonalDataFilter())
