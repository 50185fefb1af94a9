"""What every exchange operation works with: the database, the blob store and the settings."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from functools import cached_property

from aedx.settings import Settings
from aedx.storage.blobs import BlobStore
from aedx.storage.db import Database


@dataclass
class Platform:
    settings: Settings

    @cached_property
    def db(self) -> Database:
        return Database(self.settings.database_url)

    @cached_property
    def blobs(self) -> BlobStore:
        return BlobStore(self.settings.data_dir / "blobs")

    def close(self) -> None:
        if "db" in self.__dict__:
            self.db.dispose()


def process_actor(what: str) -> str:
    return f"{what}:{socket.gethostname()}:{os.getpid()}"
