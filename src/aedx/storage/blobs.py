"""The blob store: received files, reports and delivery packages, as files under one folder.

Writes are atomic (a temporary file, fsync, rename), so a blob is either whole or absent; a
process killed mid-write leaves only a temporary file that the next write of the key replaces.
Keys are relative paths made by the platform, never by callers.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

KEY = re.compile(r"^[a-z0-9_\-]+(?:/[A-Za-z0-9_\-.]+)+$")
COPY_CHUNK = 1 << 20


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        if not KEY.match(key) or ".." in key:
            raise ValueError(f"not a blob key: {key!r}")
        return self.root / key

    def exists(self, key: str) -> bool:
        return self.path(key).exists()

    @contextmanager
    def writer(self, key: str) -> Iterator[BinaryIO]:
        """Write a blob through a file object; it appears under ``key`` only when the block ends."""
        final = self.path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f".{final.name}.{secrets.token_hex(4)}.tmp")
        try:
            with tmp.open("wb") as out:
                yield out
                out.flush()
                os.fsync(out.fileno())
            tmp.replace(final)
        finally:
            tmp.unlink(missing_ok=True)

    def put(self, key: str, chunks: Iterable[bytes]) -> tuple[str, int]:
        """Store the chunks; returns their SHA-256 and size."""
        digest, size = hashlib.sha256(), 0
        with self.writer(key) as out:
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
        return digest.hexdigest(), size

    def rename(self, source: str, key: str) -> None:
        """Give a written blob its final key (content-addressed keys may exist already)."""
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        self.path(source).replace(target)

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def read_chunks(self, key: str, chunk: int = COPY_CHUNK) -> Iterator[bytes]:
        with self.path(key).open("rb") as f:
            while block := f.read(chunk):
                yield block
