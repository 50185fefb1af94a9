"""What every exchange operation works with: the database, the blob store and the settings."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from aedx.settings import Settings
from aedx.storage.blobs import BlobStore
from aedx.storage.db import Database
from aedx.trust.pki import Authority, Identity, Usage
from aedx.trust.vault import Keyring


@dataclass
class Platform:
    settings: Settings

    @cached_property
    def db(self) -> Database:
        return Database(self.settings.database_url)

    @cached_property
    def blobs(self) -> BlobStore:
        return BlobStore(self.settings.data_dir / "blobs")

    @cached_property
    def authority(self) -> Authority:
        """The platform's CA; the embedded platform makes its own on first use, a production one
        is made by ``aedx pki init``."""
        return Authority.open(self.pki_folder, create=self.settings.embedded)

    @property
    def pki_folder(self) -> Path:
        return self.settings.data_dir / "pki"

    @cached_property
    def signer(self) -> Identity:
        """What the platform signs packages, receipts and audit checkpoints with."""
        return self.authority.identity(Usage.SIGNING)

    @cached_property
    def decrypter(self) -> Identity:
        """What uploads are enveloped to."""
        return self.authority.identity(Usage.ENCRYPTION)

    @cached_property
    def keyring(self) -> Keyring:
        """The data keys that seal personal data at rest."""
        return Keyring.of(self.settings)

    def close(self) -> None:
        if "db" in self.__dict__:
            self.db.dispose()


def process_actor(what: str) -> str:
    return f"{what}:{socket.gethostname()}:{os.getpid()}"
