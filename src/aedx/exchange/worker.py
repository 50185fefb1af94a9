"""Workers take queued submissions and carry them through the state machine.

On PostgreSQL a worker claims a job by locking its row with ``FOR UPDATE SKIP LOCKED`` in a
transaction it keeps open on its own connection while the work runs, so N workers never take the
same submission, and a worker that dies releases its claim with its connection: the next worker
takes the job over at once and carries on from the last committed state. The embedded database
runs one worker, in-process. A job that fails is tried again, backing off, until its
``Settings.job_attempts``-th failure: the submission then ends ``failed`` (``exchange.failures``).

A running worker also seals the audit log every ``SEAL_EVERY`` seconds (``aedx.trust.ledger``);
when another worker is sealing it does not wait. Every ``SWEEP_EVERY`` seconds it removes expired
upload sessions and their bytes.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy import Connection, TextClause, text

from aedx.exchange import failures, process, uploads
from aedx.exchange.platform import Platform
from aedx.notify.outbox import Notifier
from aedx.storage.tables import utcnow
from aedx.trust import audit, ledger, refusals

log = logging.getLogger(__name__)

CLAIM = text("""
SELECT submission_id FROM jobs WHERE queued_at <= :now
ORDER BY queued_at, submission_id LIMIT 1
""")
CLAIM_LOCKED = text("""
SELECT submission_id FROM jobs WHERE queued_at <= :now
ORDER BY queued_at, submission_id LIMIT 1 FOR UPDATE SKIP LOCKED
""")
DONE = text("DELETE FROM jobs WHERE submission_id = :id")
RETRY = text("UPDATE jobs SET attempts = attempts + 1, queued_at = :later WHERE submission_id = :id")
MAX_BACKOFF = dt.timedelta(minutes=10)
SEAL_EVERY = 5.0  # seconds between sealing runs of a running worker
SWEEP_EVERY = 600.0  # seconds between two sweeps of expired upload sessions


class Worker:
    def __init__(self, platform: Platform, actor: str) -> None:
        self.platform = platform
        self.actor = actor
        self.stopping = threading.Event()
        self.wake = threading.Event()
        self.seal_every = SEAL_EVERY
        self._next_seal = 0.0
        self.sweep_every = SWEEP_EVERY
        self._next_sweep = 0.0
        self._seal_failure = ""
        self.notifier = Notifier(platform, actor)

    def run_once(self) -> bool:
        """Claim and run one job; False when there was none."""
        db = self.platform.db
        if db.is_sqlite:  # one worker: a short read finds the job, the steps take the write lock
            with db.transaction() as session:
                job = session.execute(CLAIM, {"now": utcnow()}).scalar()
            if job is None:
                return False
            self._run(str(job), None)
            return True
        with db.engine.connect() as claim:
            job = claim.execute(CLAIM_LOCKED, {"now": utcnow()}).scalar()
            if job is None:
                claim.rollback()
                return False
            self._run(str(job), claim)
            claim.commit()
        return True

    def _run(self, submission_id: str, claim: Connection | None) -> None:
        params: dict[str, object] = {"id": submission_id}
        try:
            state = process.run(self.platform, submission_id, self.actor)
        except Exception as error:
            log.exception("submission %s failed", submission_id)
            attempts = self._attempts(submission_id) + 1
            if attempts < self.platform.settings.job_attempts:
                self._job(claim, RETRY, params | {"later": self._later(submission_id, attempts)})
                return
            state = failures.give_up(
                self.platform, submission_id, self.actor, attempts=attempts, reason=failures.reason_of(error)
            )
        self._job(claim, DONE, params)
        log.info("submission %s %s", submission_id, state.value)

    def _job(self, claim: Connection | None, sql: TextClause, params: dict[str, object]) -> None:
        """Change the claimed job on the claiming connection (or in its own transaction)."""
        if claim is not None:
            claim.execute(sql, params)
            return
        with self.platform.db.transaction() as session:
            session.execute(sql, params)

    def _attempts(self, submission_id: str) -> int:
        """How many attempts of the job failed before this one."""
        with self.platform.db.transaction() as session:
            return int(
                session.execute(
                    text("SELECT attempts FROM jobs WHERE submission_id = :id"), {"id": submission_id}
                ).scalar_one()
            )

    def _later(self, submission_id: str, attempts: int) -> dt.datetime:
        """When to try a failed job again: backing off, with the failure in the audit log."""
        with self.platform.db.transaction() as session:
            audit.record(
                session,
                actor=self.actor,
                action="submission.retry",
                outcome="failed",
                object_type="submission",
                object_id=submission_id,
                submission_id=submission_id,
                detail={"attempt": attempts},
            )
        return utcnow() + min(MAX_BACKOFF, dt.timedelta(seconds=2 ** min(attempts - 1, 10)))

    def drain(self) -> int:
        """Run jobs until none is waiting; returns how many ran."""
        n = 0
        while not self.stopping.is_set() and self.run_once():
            n += 1
        return n

    def run_forever(self, poll: float = 0.2, on_idle: Callable[[], None] | None = None) -> None:
        while not self.stopping.is_set():
            self.seal_if_due()
            self.sweep_if_due()
            self.notifier.tick()
            if not self.run_once():
                if on_idle:
                    on_idle()
                self.wake.wait(poll)
                self.wake.clear()
        self.seal_if_due(force=True)

    def seal_if_due(self, *, force: bool = False) -> None:
        """Seal the audit log when it is time; a failure is logged (once while it lasts), never
        raised: the work goes on and ``aedx audit verify`` reports the state."""
        now = time.monotonic()
        if not force and now < self._next_seal:
            return
        self._next_seal = now + self.seal_every
        try:
            with self.platform.db.transaction() as session:  # counted refusals join the chain too
                refusals.flush(session)
            ledger.seal(self.platform, wait=False)
        except Exception as e:
            if str(e) != self._seal_failure:
                log.exception("sealing the audit log failed")
            self._seal_failure = str(e)
        else:
            self._seal_failure = ""

    def sweep_if_due(self) -> None:
        """Remove expired upload sessions and their bytes when it is time; a failure is logged."""
        now = time.monotonic()
        if now < self._next_sweep:
            return
        self._next_sweep = now + self.sweep_every
        try:
            if swept := uploads.expire(self.platform):
                log.info("%d expired upload sessions removed", swept)
        except Exception:
            log.exception("removing expired upload sessions failed")

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()
