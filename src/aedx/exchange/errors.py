"""Domain errors of the exchange; the API edge maps each to one HTTP status."""

from __future__ import annotations


class ExchangeError(Exception):
    code = "exchange.error"

    def __init__(self, message_zh: str, message_en: str, *, code: str | None = None) -> None:
        super().__init__(message_en)
        self.message_zh = message_zh
        self.message_en = message_en
        if code:
            self.code = code


class Invalid(ExchangeError):
    code = "request.invalid"


class Unauthenticated(ExchangeError):
    code = "auth.required"


class Denied(ExchangeError):
    code = "auth.denied"


class NotFound(ExchangeError):
    code = "not_found"


class Conflict(ExchangeError):
    code = "conflict"


class TooLarge(ExchangeError):
    code = "upload.too_large"


class NotReady(ExchangeError):
    code = "not_ready"
