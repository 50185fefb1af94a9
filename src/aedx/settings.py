"""Configuration from the environment; the defaults are the embedded platform in ``./.aedx``.

``AEDX_DATABASE_URL``  SQLAlchemy URL (default SQLite in the data folder; PostgreSQL in production)
``AEDX_DATA_DIR``      the data folder: blobs, the embedded database and the index key
``AEDX_MAX_UPLOAD_MB`` the largest file an upload may carry (default 2048)
``AEDX_INDEX_KEY``     hex key for the obligor key in the case index (default: made once, kept in
                       the data folder)
``AEDX_PUBLIC_URL``    the platform's public base URL (https://aedx.example.gov.tw); client assertions
                       must name its ``/oauth/token`` as their audience (default: the request's URL)
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    max_upload_bytes: int
    index_key: bytes
    today: dt.date | None = None  # the day the date rules check against; None: today in Taipei
    public_url: str | None = None  # the base URL callers use, behind any proxy

    @property
    def embedded(self) -> bool:
        """The single-process default on SQLite, which sets itself up (its CA included)."""
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, data_dir: Path | None = None, database_url: str | None = None) -> Settings:
        folder = Path(data_dir or os.environ.get("AEDX_DATA_DIR", ".aedx")).resolve()
        url = database_url or os.environ.get("AEDX_DATABASE_URL") or f"sqlite:///{folder / 'aedx.db'}"
        return cls(
            data_dir=folder,
            database_url=url,
            max_upload_bytes=int(os.environ.get("AEDX_MAX_UPLOAD_MB", "2048")) << 20,
            index_key=_index_key(folder),
            public_url=os.environ.get("AEDX_PUBLIC_URL") or None,
        )


def _index_key(folder: Path) -> bytes:
    configured = os.environ.get("AEDX_INDEX_KEY")
    if configured:
        return bytes.fromhex(configured)
    path = folder / "index.key"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(secrets.token_hex(32))
        tmp.chmod(0o600)
        tmp.replace(path)
    return bytes.fromhex(path.read_text().strip())
