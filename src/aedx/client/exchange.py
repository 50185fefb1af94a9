"""``push`` and ``pull``: the two directions of the exchange, each resumable from its journal."""

from __future__ import annotations

import contextlib
import hashlib
import mmap
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from cryptography import x509

from aedx.client.config import Config, FileRule, read_certificate
from aedx.client.files import PART, free_name, move_durably, sha256_of, write_durably
from aedx.client.http import Platform, PlatformError, Unreachable
from aedx.client.journal import Journal
from aedx.trust import cms
from aedx.trust.pki import Identity

# Beside a filed file: the platform's signed receipt, and for a rejected one its report or, for a file
# refused before it was taken, the platform's answer.
RECEIPT, REPORT, REFUSAL, FAILURE = ".receipt.p7s", ".report.csv", ".refused.txt", ".failed.txt"
REFUSED = {400, 403, 413, 415, 422}  # answers about the file itself: a retry would not mend them
# A file is filed once the platform has finished with it: an accepted file may still be refused at
# routing (its cases opened by another file first), and its packages are ready only once delivered.
# A failed file is final too: the platform gave up on it and HQ was alerted.
DECIDED = {"rejected", "delivered", "acknowledged", "failed"}
NOT_SENT = {"rejected", "failed"}  # filed in rejected/
SUFFIXES = {"csv": ".csv", "fixed": ".txt", "jsonl": ".jsonl"}


class Events(Protocol):
    """Where a run tells what it does: progress bars for a person, JSON lines for a log."""

    def event(self, name: str, **fields: Any) -> None: ...

    def begin(self, label: str, total: int) -> None: ...

    def advance(self) -> None: ...


class Quiet:
    def event(self, name: str, **fields: Any) -> None:
        pass

    def begin(self, label: str, total: int) -> None:
        pass

    def advance(self) -> None:
        pass


@dataclass
class Counts:
    accepted: int = 0
    rejected: int = 0
    pending: int = 0  # sent, no decision yet (the next run waits for it again)
    skipped: int = 0  # no [[files]] pattern matches
    written: int = 0
    acknowledged: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {k: v for k, v in vars(self).items() if isinstance(v, int)}


def idempotency_key(rule: FileRule, sha256: str) -> str:
    """Derived from the content and how it is read: the same file sent again, by this client or
    another of the same organisation, is the same submission."""
    return (
        "sha256-" + hashlib.sha256(f"{rule.kind}|{rule.format}|{rule.encoding}|{sha256}".encode()).hexdigest()
    )


def opened(path: Path, decrypter: Identity) -> cms.Signed:
    """A downloaded package decrypted and its signature checked. The file is read through a memory
    map: its sealed bytes are paged in from disk rather than copied, so a large package costs
    about its clear size in memory."""
    with path.open("rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            raise cms.CmsRefused("empty package")
        mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        with memoryview(mapped) as view:
            return cms.unwrap(view, decrypter)
    finally:
        with contextlib.suppress(BufferError):  # a refusal's traceback may still hold a view
            mapped.close()


class Client:
    def __init__(
        self,
        config: Config,
        *,
        events: Events | None = None,
        sleep: Callable[[float], None] = time.sleep,
        platform: Platform | None = None,
    ) -> None:
        config.make_folders()
        self.config = config
        self.events: Events = events or Quiet()
        self.sleep = sleep
        self.platform = platform or Platform(config, sleep=sleep)
        self.journal = Journal(config.state)
        self._trust: dict[str, x509.Certificate] | None = None

    def close(self) -> None:
        self.journal.close()
        self.platform.close()

    @property
    def trust(self) -> dict[str, x509.Certificate]:
        if self._trust is None:
            self._trust = self.platform.certificates()
        return self._trust

    def identity(self, key: Path, certificate: Path) -> Identity:
        return Identity(self.config.rsa_key(key), read_certificate(certificate), self.trust["issuing"])

    # -- push ------------------------------------------------------------------------------------

    def complete_files(self) -> list[Path]:
        """Files of the outbox that are whole: not hidden, not ``*.part``, and the same size and
        modification time at two looks ``settle`` seconds apart."""

        def look() -> dict[Path, tuple[int, int]]:
            found = {}
            for p in sorted(self.config.outbox.iterdir()):
                if p.name.startswith(".") or p.name.endswith(PART) or not p.is_file():
                    continue
                s = p.stat()
                found[p] = (s.st_size, s.st_mtime_ns)
            return found

        first = look()
        if not first:
            return []
        self.sleep(self.config.settle)
        second = look()
        return [p for p, seen in first.items() if second.get(p) == seen]

    def push(self) -> Counts:
        counts = Counts()
        files = self.complete_files()
        self.events.begin("push", len(files))
        if files:
            signer = self.identity(self.config.signing_key, self.config.signing_certificate)
        for path in files:
            try:
                self._push_one(path, signer, counts)
            except Unreachable:  # the run stops: the next one takes up where this one was
                raise
            except (PlatformError, OSError, cms.CmsRefused) as e:
                counts.failed += 1
                counts.errors.append(f"{path.name}: {e}")
                self.events.event("push.failed", file=path.name, error=str(e))
            self.events.advance()
        return counts

    def _push_one(self, path: Path, signer: Identity, counts: Counts) -> None:
        rule = self.config.rule(path.name)
        if rule is None:
            counts.skipped += 1
            self.events.event("push.unmatched", file=path.name)
            return
        sha = sha256_of(path)
        entry = self.journal.upload(path.name, sha)
        submission_id = entry.submission_id if entry else None
        if submission_id is None:
            key = idempotency_key(rule, sha)
            self.journal.sending(path.name, sha, key)
            data = path.read_bytes()
            if hashlib.sha256(data).hexdigest() != sha:  # changed since it was looked at
                self.events.event("push.changed", file=path.name)
                return
            try:
                body = self._upload(path.name, data, sha, signer, rule, key)
            except PlatformError as e:
                if e.status not in REFUSED:
                    raise
                self._refused(path, sha, e)
                counts.rejected += 1
                return
            submission_id = str(body["id"])
            self.journal.sent(path.name, sha, submission_id)
            self.events.event(
                "push.sent", file=path.name, submission=submission_id, duplicate=bool(body.get("duplicate"))
            )
        state = self._decision(submission_id)
        if state is None:
            counts.pending += 1
            self.events.event("push.pending", file=path.name, submission=submission_id)
            return
        self._file(path, sha, submission_id, state)
        if state in NOT_SENT:
            counts.rejected += 1
        else:
            counts.accepted += 1

    def _upload(
        self, name: str, data: bytes, sha: str, signer: Identity, rule: FileRule, key: str
    ) -> dict[str, Any]:
        sealed = self._sealed(data, sha, signer)
        if len(sealed) > self.config.chunk_threshold:
            return self._upload_in_chunks(sealed, rule, key, name)
        body: dict[str, Any] = self.platform.request(
            "POST",
            "/api/v1/submissions",
            params={
                "kind": rule.kind,
                "format": rule.format,
                "encoding": rule.encoding,
                "filename": name,
            },
            headers={"Content-Type": "application/pkcs7-mime", "Idempotency-Key": key},
            content=sealed,
        ).json()
        return body

    def _refused(self, path: Path, sha: str, error: PlatformError) -> None:
        """A file the platform refused before taking it (its signature, its kind not granted, its
        size): to ``rejected/`` with the platform's answer beside it."""
        target = free_name(self.config.rejected, path.name, sha[:12])
        write_durably(target.with_name(target.name + REFUSAL), f"{error}\n".encode())
        move_durably(path, target)
        (self.config.state / f"{sha}.p7m").unlink(missing_ok=True)
        self.journal.filed(path.name, sha)
        self.events.event(
            "push.refused", file=path.name, status=error.status, error=str(error), to=str(target)
        )

    def _sealed(self, data: bytes, sha: str, signer: Identity) -> bytes:
        """The file signed and enveloped to the platform. A large one is kept in the state folder
        until it is filed, so that a later run resumes the same bytes where the platform stopped."""
        if len(data) <= self.config.chunk_threshold:
            return b"".join(cms.seal(data, signer, self.trust["platform-encryption"]))
        kept = self.config.state / f"{sha}.p7m"
        if kept.exists():
            return kept.read_bytes()
        sealed = b"".join(cms.seal(data, signer, self.trust["platform-encryption"]))
        write_durably(kept, sealed, mode=0o600)
        return sealed

    def _upload_in_chunks(self, sealed: bytes, rule: FileRule, key: str, name: str) -> dict[str, Any]:
        """An upload session: chunks appended at the platform's offset, which is asked again after
        an interruption; then completed, answering as a whole upload does."""
        size = len(sealed)
        params = {
            "kind": rule.kind,
            "format": rule.format,
            "encoding": rule.encoding,
            "filename": name,
            "size": size,
            "sha256": hashlib.sha256(sealed).hexdigest(),
        }
        held = self.platform.request(
            "POST", "/api/v1/uploads", params=params, headers={"Idempotency-Key": key}
        )
        upload_id, offset = str(held.json()["id"]), int(held.json()["offset"])
        chunk = self.config.chunk_size
        for _ in range(4 * (size // chunk + 1) + self.config.retry.attempts):  # bounded
            if offset >= size:
                break
            response = self.platform.request(
                "PATCH",
                f"/api/v1/uploads/{upload_id}",
                headers={"Upload-Offset": str(offset), "Content-Type": "application/octet-stream"},
                content=sealed[offset : offset + chunk],
                ok=(409,),
            )
            if response.status_code == 409:  # a cut chunk was kept in part: ask where it stands
                response = self.platform.request("GET", f"/api/v1/uploads/{upload_id}")
            offset = int(response.json()["offset"])
            self.events.event("push.chunk", file=name, upload=upload_id, offset=offset, size=size)
        if offset < size:
            raise PlatformError(f"{name}: the upload stopped at {offset} of {size} bytes")
        body: dict[str, Any] = self.platform.request("POST", f"/api/v1/uploads/{upload_id}/complete").json()
        return body

    def _decision(self, submission_id: str) -> str | None:
        """The submission's state once the platform has decided, or None after ``poll_timeout``."""
        deadline = time.monotonic() + self.config.poll_timeout
        wait = 0.1
        while True:
            state = str(self.platform.request("GET", f"/api/v1/submissions/{submission_id}").json()["state"])
            if state in DECIDED:
                return state
            if time.monotonic() >= deadline:
                return None
            self.sleep(wait)
            wait = min(wait * 1.5, 1.0)  # a decision is seen within a second of being made

    def _file(self, path: Path, sha: str, submission_id: str, state: str) -> None:
        """The receipt (checked: signed by the platform) and, for a rejected file, its report, are
        written first; then the file is moved beside them; then the journal says so."""
        receipt = self.platform.request("GET", f"/api/v1/submissions/{submission_id}/receipt").content
        signed = cms.verify(receipt)
        if signed.signer != self.trust["platform-signing"]:
            raise PlatformError(f"the receipt of {submission_id} is not signed by the platform")
        folder = self.config.rejected if state in NOT_SENT else self.config.sent
        target = free_name(folder, path.name, submission_id)
        write_durably(target.with_name(target.name + RECEIPT), receipt)
        if state == "rejected":
            report = self.platform.request("GET", f"/api/v1/submissions/{submission_id}/report/csv").content
            write_durably(target.with_name(target.name + REPORT), report)
        if state == "failed":
            write_durably(target.with_name(target.name + FAILURE), bytes(signed.content))
        move_durably(path, target)
        (self.config.state / f"{sha}.p7m").unlink(missing_ok=True)
        self.journal.filed(path.name, sha)
        self.events.event("push.filed", file=path.name, submission=submission_id, state=state, to=str(target))

    # -- pull ------------------------------------------------------------------------------------

    def pull(self) -> Counts:
        counts = Counts()
        waiting: list[dict[str, Any]] = []
        after = ""
        for _ in range(1000):  # pages of the inbox, bounded
            page = self.platform.request(
                "GET", "/api/v1/inbox", params={"limit": 1000, "after": after}
            ).json()
            waiting.extend(page)
            if len(page) < 1000:
                break
            after = str(page[-1]["id"])
        self.events.begin("pull", len(waiting))
        if waiting:
            decrypter = self.identity(self.config.encryption_key, self.config.encryption_certificate)
        for delivery in waiting:
            try:
                self._pull_one(delivery, decrypter, counts)
            except Unreachable:  # the run stops: the next one takes up where this one was
                raise
            except (PlatformError, OSError, cms.CmsRefused) as e:
                counts.failed += 1
                counts.errors.append(f"{delivery['id']}: {e}")
                self.events.event("pull.failed", delivery=delivery["id"], error=str(e))
            self.events.advance()
        return counts

    def _pull_one(self, delivery: dict[str, Any], decrypter: Identity, counts: Counts) -> None:
        delivery_id, sha = str(delivery["id"]), str(delivery["sha256"])
        name = f"{delivery['sender']}-{delivery['kind']}-{delivery_id}{SUFFIXES.get(delivery['format'], '')}"
        target = self.config.inbox / name
        entry = self.journal.download(delivery_id)
        if entry is None or entry.sha256 != sha:  # once written, never again (it may have been taken away)
            scratch = self.config.state / f"{delivery_id}.download{PART}"
            try:
                self.platform.download(f"/api/v1/deliveries/{delivery_id}/content", scratch)
                package = opened(scratch, decrypter)
            finally:
                scratch.unlink(missing_ok=True)
            if package.signer != self.trust["platform-signing"]:
                raise PlatformError(f"delivery {delivery_id} is not signed by the platform")
            content_sha = hashlib.sha256(package.content).hexdigest()
            if not (target.exists() and sha256_of(target) == content_sha):  # written before the journal knew
                write_durably(target, package.content)
                counts.written += 1
                self.events.event(
                    "pull.written", delivery=delivery_id, file=name, records=delivery.get("records")
                )
            self.journal.written(delivery_id, sha, name, content_sha)
        self.platform.request("POST", f"/api/v1/deliveries/{delivery_id}/ack")
        self.journal.acknowledged(delivery_id)
        counts.acknowledged += 1
        self.events.event("pull.acknowledged", delivery=delivery_id)
