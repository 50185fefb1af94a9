"""Configuration from the environment; the defaults are the embedded platform in ``./.aedx``.

``AEDX_DATABASE_URL``  SQLAlchemy URL (default SQLite in the data folder; PostgreSQL in production)
``AEDX_DATA_DIR``      the data folder: blobs, the embedded database and the index key
``AEDX_MAX_UPLOAD_MB`` the largest file an upload may carry (default 2048)
``AEDX_PLAIN_EXCHANGE`` ``1`` accepts unsigned, unencrypted uploads and writes packages in the
                       clear: for measuring the protection's cost and for local trials, never
                       in service (default: every file signed and enveloped, both hops)
``AEDX_INDEX_KEY``     hex key for the obligor key in the case index (default: made once, kept in
                       the data folder)
``AEDX_SECRET_KEY``    hex key (32 bytes) that encrypts secrets at rest, such as people's TOTP
                       secrets (default: made once, kept in the data folder)
``AEDX_DATA_KEYS``     versioned AES-256 keys for personal data at rest, "2:hex64,1:hex64": the
                       newest encrypts, all decrypt (default: one made once in the data folder;
                       ``aedx.trust.vault``)
``AEDX_PUBLIC_URL``    the platform's public base URL (https://aedx.example.gov.tw); client assertions
                       must name its ``/oauth/token`` as their audience (default: the request's URL)
``AEDX_JOB_ATTEMPTS``  how many times a worker tries a submission before it ends ``failed`` (default 5)
``AEDX_HOLIDAY_CALENDAR`` the government-office calendar CSV of a year published after the release
                       (西元日期,星期,是否放假,備註), over the bundled years (``aedx.workdays``)
``AEDX_ALLOWED_HOSTS`` the ``Host`` names the platform answers to, comma-separated (default: the host
                       of ``AEDX_PUBLIC_URL`` and the loopback names); others get 400
``AEDX_TRUSTED_PROXIES`` addresses or networks of the reverse proxies whose ``X-Forwarded-For`` and
                       ``X-Forwarded-Proto`` are believed, comma-separated (default: none)
``AEDX_MAX_HEADER_KB`` the largest request head, in KiB (default 16); larger gets 431
``AEDX_DIGEST_HOUR``   the hour (0–23, Taipei) at which workers send the daily digest e-mails (default 17)
``AEDX_RATE_LIMITS``   rate limits as ``name=limit`` pairs, ``;``-separated, in the notation of
                       ``limits`` (``token_client=30/minute;sign_in=20/minute``); see ``aedx.api.ratelimit``
``AEDX_IDLE_MINUTES``  minutes a portal session may stay idle before it ends (default 15; a fraction
                       such as ``0.5`` is allowed, for trials); the page warns a few minutes before
``AEDX_HELP_DESK``     whom a person calls when their account is locked, shown on the sign-in page
                       (default ``HELP_DESK``: the HQ information office's help desk)
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

TAIPEI = dt.timezone(dt.timedelta(hours=8), "Asia/Taipei")  # no daylight saving since 1979
IDLE_TIMEOUT = dt.timedelta(minutes=15)
HELP_DESK = "法務部行政執行署資訊室服務台（上班時間）"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    max_upload_bytes: int
    index_key: bytes
    today: dt.date | None = None  # the day the date rules check against; None: today in Taipei
    plain_exchange: bool = False  # files travel unsigned and in the clear (measurement only)
    secret_key: bytes = b""  # AES-256 key for secrets at rest; from_env always sets one
    public_url: str | None = None  # the base URL callers use, behind any proxy
    data_keys: str = ""  # AEDX_DATA_KEYS; empty: the keyring kept in the data folder
    job_attempts: int = 5  # a submission that fails this many times ends ``failed``
    holiday_calendar: Path | None = None  # a newer government-office calendar than the bundled one
    allowed_hosts: tuple[str, ...] = ("*",)  # Host names answered; from_env narrows it
    trusted_proxies: tuple[str, ...] = ()  # whose X-Forwarded-For/-Proto are believed
    max_header_bytes: int = 16 << 10  # a larger request head is answered 431
    rate_limits: tuple[tuple[str, str], ...] = ()  # (name, limit) overrides of ratelimit.DEFAULTS
    idle_timeout: dt.timedelta = IDLE_TIMEOUT  # a portal session idle this long ends
    help_desk: str = HELP_DESK  # whom to call about a locked account
    digest_hour: int = 17  # the daily digest e-mails go at this hour, Taipei time

    def current_day(self) -> dt.date:
        """The day the date rules check against: the configured one, else today in Taipei."""
        return self.today or dt.datetime.now(TAIPEI).date()

    @property
    def embedded(self) -> bool:
        """The single-process default on SQLite, which sets itself up (its CA included)."""
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, data_dir: Path | None = None, database_url: str | None = None) -> Settings:
        folder = Path(data_dir or os.environ.get("AEDX_DATA_DIR", ".aedx")).resolve()
        url = database_url or os.environ.get("AEDX_DATABASE_URL") or f"sqlite:///{folder / 'aedx.db'}"
        public_url = os.environ.get("AEDX_PUBLIC_URL") or None
        return cls(
            data_dir=folder,
            database_url=url,
            max_upload_bytes=int(os.environ.get("AEDX_MAX_UPLOAD_MB", "2048")) << 20,
            index_key=_key(folder, "AEDX_INDEX_KEY", "index.key"),
            secret_key=_key(folder, "AEDX_SECRET_KEY", "secret.key"),
            plain_exchange=os.environ.get("AEDX_PLAIN_EXCHANGE") == "1",
            public_url=public_url,
            data_keys=os.environ.get("AEDX_DATA_KEYS", ""),
            job_attempts=max(1, int(os.environ.get("AEDX_JOB_ATTEMPTS", "5"))),
            holiday_calendar=_path(os.environ.get("AEDX_HOLIDAY_CALENDAR")),
            allowed_hosts=_allowed_hosts(public_url),
            trusted_proxies=_listed(os.environ.get("AEDX_TRUSTED_PROXIES", "")),
            max_header_bytes=int(os.environ.get("AEDX_MAX_HEADER_KB", "16")) << 10,
            rate_limits=_pairs(os.environ.get("AEDX_RATE_LIMITS", "")),
            idle_timeout=_minutes(os.environ.get("AEDX_IDLE_MINUTES")) or IDLE_TIMEOUT,
            help_desk=os.environ.get("AEDX_HELP_DESK", "").strip() or HELP_DESK,
            digest_hour=min(23, max(0, int(os.environ.get("AEDX_DIGEST_HOUR", "17")))),
        )


def _minutes(value: str | None) -> dt.timedelta | None:
    """A positive number of minutes, or None when unset."""
    if not value or not value.strip():
        return None
    minutes = float(value)
    if not minutes > 0:
        raise ValueError(f"a positive number of minutes is needed, not {value!r}")
    return dt.timedelta(minutes=minutes)


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def _listed(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _allowed_hosts(public_url: str | None) -> tuple[str, ...]:
    """The configured hosts, else the public URL's host and loopback: never whatever a caller sends."""
    configured = _listed(os.environ.get("AEDX_ALLOWED_HOSTS", ""))
    if configured:
        return configured
    public = urlsplit(public_url).hostname if public_url else None
    return (*([public] if public else []), *LOOPBACK_HOSTS)


def _pairs(value: str) -> tuple[tuple[str, str], ...]:
    pairs = (part.split("=", 1) for part in value.split(";") if "=" in part)
    return tuple((name.strip(), limit.strip()) for name, limit in pairs)


def _key(folder: Path, variable: str, filename: str) -> bytes:
    """A 32-byte key from the environment, or made once and kept in the data folder."""
    configured = os.environ.get(variable)
    if configured:
        return bytes.fromhex(configured)
    path = folder / filename
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(secrets.token_hex(32))
        tmp.chmod(0o600)
        tmp.replace(path)
    return bytes.fromhex(path.read_text().strip())
