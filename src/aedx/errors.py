"""Domain errors; the API edge maps each to one HTTP status, the commands print them."""

from __future__ import annotations


class DomainError(Exception):
    code = "exchange.error"

    def __init__(self, message_zh: str, message_en: str, *, code: str | None = None) -> None:
        super().__init__(message_en)
        self.message_zh = message_zh
        self.message_en = message_en
        if code:
            self.code = code


class Invalid(DomainError):
    code = "request.invalid"


class Unauthenticated(DomainError):
    code = "auth.required"


class Denied(DomainError):
    code = "auth.denied"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


class TooLarge(DomainError):
    code = "upload.too_large"


class NotReady(DomainError):
    code = "not_ready"
