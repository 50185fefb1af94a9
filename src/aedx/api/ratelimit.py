"""Rate limits at the edge, with the fixed-window strategy of ``limits``: the token endpoint by
address and by client id, the portal's sign-in by address, the API by address and by client.

The embedded platform (SQLite, one process) counts in memory; on PostgreSQL the counters are rows
of ``rate_limit_counters``, so that every API process counts the same requests. A refusal is a
``TooManyRequests``: 429 with ``Retry-After`` (in the OAuth shape on ``/oauth/token``).

The defaults are far above what an agency's client or a person does (a token every ten minutes, a
few hundred calls a day), and above the demonstration's traffic; ``AEDX_RATE_LIMITS`` overrides
them by name (``token_client=10/minute;sign_in_address=5/minute``)."""

from __future__ import annotations

import math
import time
from typing import Any

from fastapi import Request
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, Storage
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import case, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from aedx.accounts.clients import TOKEN_PATH
from aedx.errors import DomainError
from aedx.settings import Settings
from aedx.storage.db import Database
from aedx.storage.tables import RateLimitCounter
from aedx.web.portal import SIGN_IN

DEFAULTS = {
    "token_address": "300/minute",
    "token_client": "30/minute",
    "sign_in_address": "30/minute",
    "api_address": "6000/minute",
    "api_client": "3000/minute",
}
SWEEP_EVERY = 1000  # counter updates between two removals of expired counters


class TooManyRequests(DomainError):
    code = "request.too_many"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"請求過於頻繁，請於 {retry_after} 秒後再試",
            f"too many requests; try again in {retry_after} seconds",
        )
        self.retry_after = retry_after


class DatabaseStorage(Storage):
    """``limits``' storage over one table: each increment is one atomic upsert that starts a new
    window when the old one has expired, so concurrent processes never lose or double a hit."""

    STORAGE_SCHEME = None

    def __init__(self, db: Database) -> None:
        super().__init__()
        self.db = db
        self.updates = 0

    @property
    def base_exceptions(self) -> type[Exception]:
        return SQLAlchemyError

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        now = time.time()
        table: Any = RateLimitCounter.__table__
        insert = pg_insert if self.db.engine.dialect.name == "postgresql" else sqlite_insert
        fresh = insert(table).values(key=key, hits=amount, expires_at=now + expiry)
        expired = table.c.expires_at <= now
        upsert = fresh.on_conflict_do_update(
            index_elements=["key"],
            set_={
                "hits": _case(expired, amount, table.c.hits + amount),
                "expires_at": _case(expired, now + expiry, table.c.expires_at),
            },
        ).returning(table.c.hits)
        with self.db.engine.begin() as conn:
            hits = int(conn.execute(upsert).scalar_one())
            self.updates += 1
            if self.updates % SWEEP_EVERY == 0:
                conn.execute(delete(RateLimitCounter).where(expired))
        return hits

    def _row(self, key: str) -> Any:
        with self.db.engine.connect() as conn:
            table: Any = RateLimitCounter.__table__
            query = select(table.c.hits, table.c.expires_at).where(table.c.key == key)
            return conn.execute(query.where(table.c.expires_at > time.time())).first()

    def get(self, key: str) -> int:
        row = self._row(key)
        return int(row.hits) if row else 0

    def get_expiry(self, key: str) -> float:
        row = self._row(key)
        return float(row.expires_at) if row else time.time()

    def check(self) -> bool:
        return True

    def reset(self) -> int | None:
        with self.db.engine.begin() as conn:
            return int(conn.execute(delete(RateLimitCounter)).rowcount)

    def clear(self, key: str) -> None:
        with self.db.engine.begin() as conn:
            conn.execute(delete(RateLimitCounter).where(RateLimitCounter.key == key))


def _case(condition: Any, then: Any, otherwise: Any) -> Any:
    return case((condition, then), else_=otherwise)


class Limiter:
    """The platform's limits, by name, over its storage."""

    def __init__(self, settings: Settings, db: Database) -> None:
        storage: Storage = MemoryStorage() if settings.embedded else DatabaseStorage(db)
        self.strategy = FixedWindowRateLimiter(storage)
        configured = DEFAULTS | dict(settings.rate_limits)
        self.items: dict[str, RateLimitItem] = {name: parse(limit) for name, limit in configured.items()}

    def hit(self, name: str, who: str) -> None:
        """Count a request of ``who`` against the limit ``name``; raises ``TooManyRequests``."""
        item = self.items[name]
        if self.strategy.hit(item, name, who):
            return
        reset = self.strategy.get_window_stats(item, name, who).reset_time
        raise TooManyRequests(max(1, math.ceil(reset - time.time())))


def by_address(request: Request) -> None:
    """The limit of the request's path by the caller's address (an app-wide dependency)."""
    path = request.url.path
    if path == TOKEN_PATH:
        name = "token_address"
    elif path.startswith(SIGN_IN) and request.method == "POST":
        name = "sign_in_address"
    elif path.startswith("/api/"):
        name = "api_address"
    else:
        return
    limiter(request).hit(name, request.client.host if request.client else "-")


def limiter(request: Request) -> Limiter:
    found: Limiter = request.app.state.limiter
    return found
