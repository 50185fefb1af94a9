"""The organisations' own servers around the platform, each as it runs on its own machine: its
system (the reference agency or branch, on its folders) and ``aedx-client`` moving files between
those folders and the platform, over HTTP like any other client. Nothing here reaches into the
platform: what one organisation knows comes from its own database and folders.

An office's folder holds its client's configuration (``aedx-client.toml``), the client's folders
(``outbox/``, ``sent/``, ``rejected/``, ``inbox/``, ``state/``) and its system's database. A working
day: agencies take in their feedback and what was rejected, write the day's referrals and payments
and push them; branches pull their deliveries, import them, play the day and push their status
feedback; agencies pull the feedback. The client files a pushed file only once the platform has
delivered it, so each step sees what the one before it sent. Running a day again (after a crash,
or on a schedule) only exchanges what still waits: each system produces and plays a day once.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aedx.client import config as client_config
from aedx.client.exchange import Client, Counts
from aedx.client.http import PlatformError
from aedx.formats import Format
from aedx.sim.adapter import EXTENSIONS
from aedx.sim.agency import AgencySystem
from aedx.sim.branch.run import DATABASE, adapter_for, run_day
from aedx.sim.branch.system import BranchSystem

CONFIG = "aedx-client.toml"
SENDS = {"agency": ("case_referral", "payment"), "branch": ("status_feedback",)}


@dataclass(frozen=True)
class Keys:
    """What an organisation's administrator installs on its server: the API client's id and private
    key, and the signing and encryption keys with their certificates (PEM files)."""

    client_id: str
    oauth_key: Path
    signing_key: Path
    signing_certificate: Path
    encryption_key: Path
    encryption_certificate: Path


@dataclass(frozen=True)
class Office:
    """One organisation's server: its system's kind, its folder, and how its system writes files."""

    code: str
    role: str  # agency or branch
    folder: Path
    fmt: Format = Format.CSV
    encoding: str = "utf-8"
    volume: int = 40  # an agency's typical referrals a day
    seed: int = 0

    def install(self, keys: Keys, platform_url: str, **settings: Any) -> Path:
        """Write the client's configuration: the keys, the platform, and one file rule per kind the
        system writes (``case_referral-….csv`` is a referral in the system's format and encoding).
        ``settings`` are further top-level settings or tables (``schedule``, ``retry``)."""
        read = {"format": self.fmt.value, "encoding": self.encoding}
        pattern = "{}-*." + EXTENSIONS[self.fmt]
        files = [{"pattern": pattern.format(kind), "kind": kind} | read for kind in SENDS[self.role]]
        values: dict[str, Any] = {
            "organisation": self.code,
            "client_id": keys.client_id,
            "platform_url": platform_url,
            "oauth_key": keys.oauth_key,
            "signing": {"key": keys.signing_key, "certificate": keys.signing_certificate},
            "encryption": {"key": keys.encryption_key, "certificate": keys.encryption_certificate},
            "folders": {name: name for name in client_config.FOLDERS},
            "schedule": {"every": "10m", "settle_seconds": 0},  # the systems write whole files (renamed)
        }
        for name, value in settings.items():
            values[name] = values.get(name, {}) | value if isinstance(value, dict) else value
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / CONFIG
        path.write_text(client_config.dumps(values | {"files": files}), encoding="utf-8")
        return path

    @contextmanager
    def client(self) -> Iterator[Client]:
        c = Client(client_config.load(self.folder / CONFIG))
        try:
            yield c
        finally:
            c.close()

    @contextmanager
    def agency(self) -> Iterator[AgencySystem]:
        system = AgencySystem(
            self.folder, self.code, seed=self.seed, volume=self.volume, fmt=self.fmt, encoding=self.encoding
        )
        try:
            yield system
        finally:
            system.close()

    @contextmanager
    def branch(self) -> Iterator[BranchSystem]:
        system = BranchSystem(self.folder / DATABASE, self.code, seed=self.seed)
        try:
            yield system
        finally:
            system.close()


@dataclass
class DayReport:
    """What a day (or a round of one) did across the offices."""

    day: dt.date
    referrals: int = 0  # records the agencies wrote
    payments: int = 0
    mistaken: int = 0  # records in files with mistakes
    imported: int = 0  # records the systems took from their inboxes
    events: int = 0  # status events the branches' lifecycles made
    accepted: int = 0  # files the platform delivered
    rejected: int = 0
    pending: int = 0  # files still waiting for the platform's decision
    failed: int = 0
    packages: int = 0  # packages written into inboxes
    noted: int = 0  # rejected files the agencies read
    errors: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, *errors: str, **counts: int) -> None:
        """Counts and errors of one office's step (offices report from their own threads)."""
        with self._lock:
            for name, n in counts.items():
                setattr(self, name, getattr(self, name) + n)
            self.errors.extend(errors)

    def exchanged(self, counts: Counts) -> None:
        self.add(
            *counts.errors,
            accepted=counts.accepted,
            rejected=counts.rejected,
            pending=counts.pending,
            failed=counts.failed,
            packages=counts.written,
        )


class Network:
    """The offices' working days, several offices at a time as separate servers would be."""

    def __init__(
        self,
        offices: list[Office],
        *,
        threads: int = 4,
        mistake_rate: float = 0.1,
        on_step: Callable[[str, Office], None] | None = None,
    ) -> None:
        self.agencies = [o for o in offices if o.role == "agency"]
        self.branches = [o for o in offices if o.role == "branch"]
        self.threads = threads
        self.mistake_rate = mistake_rate
        self.on_step = on_step

    def steps(self) -> int:
        """Office steps in a day, for a progress bar."""
        return 2 * len(self.agencies) + len(self.branches)

    def day(self, day: dt.date) -> DayReport:
        report = DayReport(day)
        self._each("agencies send", self.agencies, lambda o: self._agency_sends(o, day, report))
        self._each("branches work", self.branches, lambda o: self._branch_works(o, day, report))
        self._each("agencies read feedback", self.agencies, lambda o: self._agency_reads(o, report))
        return report

    def _each(self, step: str, offices: list[Office], work: Callable[[Office], None]) -> None:
        def one(office: Office) -> None:
            work(office)
            if self.on_step:
                self.on_step(step, office)

        with ThreadPoolExecutor(max_workers=self.threads) as pool:
            for done in [pool.submit(one, o) for o in offices]:
                done.result()

    def _exchange(self, office: Office, report: DayReport, direction: str) -> None:
        """One run of the office's client; an unreachable or refusing platform is reported and the
        files stay where they are for the next run."""
        try:
            with office.client() as client:
                counts = client.pull() if direction == "pull" else client.push()
        except PlatformError as e:
            report.add(f"{office.code} {direction}: {e}", failed=1)
            return
        report.exchanged(counts)

    def _agency_sends(self, office: Office, day: dt.date, report: DayReport) -> None:
        self._agency_reads(office, report)
        with office.agency() as agency:
            referrals, payments, mistaken = agency.produce(day, mistake_rate=self.mistake_rate)
        report.add(referrals=referrals, payments=payments, mistaken=mistaken)
        self._exchange(office, report, "push")

    def _branch_works(self, office: Office, day: dt.date, report: DayReport) -> None:
        self._exchange(office, report, "pull")
        with office.branch() as branch:
            played = run_day(branch, adapter_for(office.folder, branch), day, office.fmt, office.encoding)
        report.add(imported=played.imported, events=played.events)
        self._exchange(office, report, "push")

    def _agency_reads(self, office: Office, report: DayReport) -> None:
        """Pull, then take in the feedback and what was rejected."""
        self._exchange(office, report, "pull")
        with office.agency() as agency:
            imported = agency.adapter.import_inbox()
            noted = agency.note_rejections(office.folder / "rejected")
        report.add(imported=imported, noted=noted)
