"""Files written so that a crash leaves either the old state or the new, never half a file: a
temporary file in the same folder, flushed to disk, renamed over the target, and the folder flushed
so that the rename itself survives."""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

PART = ".part"


def fsync_folder(folder: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durably(target: Path, data: bytes | memoryview, mode: int = 0o644) -> None:
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}{PART}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_folder(target.parent)


def move_durably(source: Path, target: Path) -> None:
    """A rename within one file system, both folders flushed."""
    os.replace(source, target)
    fsync_folder(target.parent)
    fsync_folder(source.parent)


def free_name(folder: Path, name: str, tag: str) -> Path:
    """``folder/name``, or ``folder/tag-name`` when that is taken."""
    target = folder / name
    return target if not target.exists() else folder / f"{tag}-{name}"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
