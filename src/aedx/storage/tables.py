"""The database schema: organisations, their grants and API clients, submissions and their work queue,
deliveries, the case index and the audit log.

Codes of organisations (agency code, branch code) are stored as the files carry them, so the case
index can be loaded in bulk without looking up keys row by row.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

BigId = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER keys only


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timestamps are stored and returned in UTC, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: object) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("timestamps must carry a time zone")
        return value.astimezone(dt.UTC) if value is not None else None

    def process_result_value(self, value: dt.datetime | None, dialect: object) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_id() -> str:
    """Identifiers of submissions and deliveries, sortable by creation time: milliseconds, then
    80 random bits."""
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_hex(10)}"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(10))  # hq, branch, agency, partner
    category: Mapped[str | None] = mapped_column(String(10))  # tax, nhi, fine, fee for agencies
    abbreviation: Mapped[str | None] = mapped_column(String(10))  # a branch's, as in its case numbers
    preferred_format: Mapped[str] = mapped_column(String(10), default="csv")
    preferred_encoding: Mapped[str] = mapped_column(String(10), default="utf-8")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Submission(Base):
    __tablename__ = "submissions"
    __table_args__ = (
        UniqueConstraint("sender_id", "kind", "sha256"),
        UniqueConstraint("sender_id", "idempotency_key"),
        Index("ix_submissions_sender_received", "sender_id", "received_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    sender_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    kind: Mapped[str] = mapped_column(String(30))
    format: Mapped[str] = mapped_column(String(10))
    encoding: Mapped[str] = mapped_column(String(10))
    filename: Mapped[str | None] = mapped_column(String(200))
    idempotency_key: Mapped[str | None] = mapped_column(String(100))
    sha256: Mapped[str] = mapped_column(String(64))  # of the content, as signed
    size: Mapped[int] = mapped_column(BigInteger)  # of the bytes received
    blob_key: Mapped[str] = mapped_column(String(200))
    envelope_sha256: Mapped[str | None] = mapped_column(String(64))  # of the CMS received, when signed
    signer_serial: Mapped[str | None] = mapped_column(String(64))  # the sender's signing certificate
    receipt_key: Mapped[str | None] = mapped_column(String(200))  # the platform's signed receipt
    state: Mapped[str] = mapped_column(String(15), index=True)
    records: Mapped[int | None] = mapped_column(Integer)
    error_rows: Mapped[int | None] = mapped_column(Integer)
    warning_rows: Mapped[int | None] = mapped_column(Integer)
    report_key: Mapped[str | None] = mapped_column(String(200))
    summary: Mapped[str | None] = mapped_column(Text)  # the report's summary, JSON
    failure: Mapped[str | None] = mapped_column(Text)  # why processing gave up (state ``failed``)
    validated_on: Mapped[dt.date | None] = mapped_column(Date)  # "today" of the date rules
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Job(Base):
    """Work waiting for a worker: one row per submission not yet finished."""

    __tablename__ = "jobs"

    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), primary_key=True)
    queued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class Delivery(Base):
    """One package per (submission, recipient); feedback packages to agencies are deliveries too."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("submission_id", "recipient_id"),
        Index("ix_deliveries_recipient_state", "recipient_id", "state"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"))
    recipient_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    kind: Mapped[str] = mapped_column(String(30))
    records: Mapped[int] = mapped_column(Integer)
    format: Mapped[str] = mapped_column(String(10))
    encoding: Mapped[str] = mapped_column(String(10))
    blob_key: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(15))  # routed, ready, acknowledged
    downloads: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    ready_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # the first download whose whole body was sent: acknowledging needs one
    downloaded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Case(Base):
    """The case index: one row per referred case."""

    __tablename__ = "cases"
    __table_args__ = (
        # is_open is TRUE or NULL: unique while open; a closed case may be referred again
        # (execution certificate), and lookups of any case use the same index. Lookups by branch
        # case number and by obligor come with the portals, each index with its measured cost.
        UniqueConstraint("agency_code", "agency_case_no", "is_open", name="uq_cases_agency_case_open"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    agency_code: Mapped[str] = mapped_column(String(10))
    agency_case_no: Mapped[str] = mapped_column(String(30))
    branch_code: Mapped[str] = mapped_column(String(3))
    branch_case_no: Mapped[str | None] = mapped_column(String(60))
    obligor_key: Mapped[int] = mapped_column(BigInteger)  # keyed hash of the obligor's ID
    # Personal data at rest (aedx.trust.vault): obligor_key above is the blind index, a keyed PRF
    # of the ID that finds an obligor's cases without the ID; the ID and the name are sealed here
    # (AES-256-GCM, base64) under the data key of the version beside them.
    obligor_sealed: Mapped[str | None] = mapped_column(Text)
    data_key_version: Mapped[int | None] = mapped_column(SmallInteger)
    # A second blind index, of a person's normalised name with their birth date, so that people
    # can find a case by name and birth date without the index holding either (NULL for companies).
    obligor_person_key: Mapped[int | None] = mapped_column(BigInteger, index=True)
    obligor_type: Mapped[str] = mapped_column(String(1))
    amount_due: Mapped[int] = mapped_column(BigInteger)
    collected: Mapped[int] = mapped_column(BigInteger, default=0)
    referral_date: Mapped[dt.date] = mapped_column(Date)
    due_date: Mapped[dt.date] = mapped_column(Date)
    enforcement_deadline: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10))  # REFERRED, ASSIGNED, COLLECTED, PENDING, CLOSED
    close_reason: Mapped[str | None] = mapped_column(String(12))
    is_open: Mapped[bool | None] = mapped_column(Boolean)  # TRUE while open, NULL once closed
    last_event_date: Mapped[dt.date] = mapped_column(Date)
    submission_id: Mapped[str] = mapped_column(String(32))  # the referral that opened it
    last_submission_id: Mapped[str | None] = mapped_column(String(32))  # the last feedback that moved it


class CaseEvent(Base):
    """A case's history: each event a branch reported in status feedback, as reported."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("cases.id"), index=True)
    event: Mapped[str] = mapped_column(String(10))  # ASSIGNED, COLLECTED, PENDING, CLOSED
    event_date: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[int | None] = mapped_column(BigInteger)
    close_reason: Mapped[str | None] = mapped_column(String(12))
    branch_case_no: Mapped[str | None] = mapped_column(String(60))
    officer: Mapped[str | None] = mapped_column(String(20))
    submission_id: Mapped[str] = mapped_column(String(32))  # the feedback that reported it


class Certificate(Base):
    """Certificates the platform issued or imported: organisations' signing and encryption keys."""

    __tablename__ = "certificates"
    __table_args__ = (Index("ix_certificates_organisation_usage", "organisation_id", "usage"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    usage: Mapped[str] = mapped_column(String(12))  # signing, encryption
    serial: Mapped[str] = mapped_column(String(64))  # hex
    issuer: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 of the DER
    not_before: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    not_after: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    pem: Mapped[str] = mapped_column(Text)
    external: Mapped[bool] = mapped_column(Boolean, default=False)  # issued by another CA
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revocation_reason: Mapped[str | None] = mapped_column(String(30))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEvent(Base):
    """Who did what, when, to which object, with what outcome; append-only."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_organisation_at", "organisation_id", "at"),
        Index("ix_audit_events_submission", "submission_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(100))  # token:12, worker:host:pid, cli:user
    actor_organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))  # whose object
    action: Mapped[str] = mapped_column(String(50))
    object_type: Mapped[str | None] = mapped_column(String(30))
    object_id: Mapped[str | None] = mapped_column(String(64))
    submission_id: Mapped[str | None] = mapped_column(String(32))
    kind: Mapped[str | None] = mapped_column(String(30))
    outcome: Mapped[str] = mapped_column(String(20))  # ok, denied, rejected, duplicate, failed
    detail: Mapped[str | None] = mapped_column(Text)  # JSON

    # The tamper-evident ledger (aedx.trust.ledger): set once by the sealer, NULL until sealed.
    seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    chain_hash: Mapped[str | None] = mapped_column(String(64))


# People's accounts: users, their password history and their sessions (aedx.accounts.users,
# aedx.accounts.sessions).


class User(Base):
    """One person: a personal name, a unique username and e-mail, one role in one organisation."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    username: Mapped[str] = mapped_column(String(50), unique=True)  # lower case
    full_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(200), unique=True)  # lower case
    role: Mapped[str] = mapped_column(String(30))  # aedx.accounts.roles.Role
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_hash: Mapped[str] = mapped_column(String(200))  # argon2id, PHC string
    password_changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=True)
    totp_secret: Mapped[str | None] = mapped_column(String(200))  # AES-GCM, base64
    totp_confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)  # the last accepted time step
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0)  # consecutive
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_sign_in_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class PasswordHistory(Base):
    """The hashes of a user's most recent passwords, the current one included."""

    __tablename__ = "password_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class UserSession(Base):
    """A signed-in person's session; only the SHA-256 of its token is kept."""

    __tablename__ = "user_sessions"
    __table_args__ = (Index("ix_user_sessions_user_ended", "user_id", "ended_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(20))  # signed_out, idle, expired, disabled, ...
    client_address: Mapped[str | None] = mapped_column(String(64))


# --- The tamper-evident audit ledger (aedx.trust.ledger) ---


class AuditCheckpoint(Base):
    """A signed statement of the audit chain's head after a sealing run: its last sequence
    number and hash; also appended to ``audit/checkpoints.jsonl`` in the data folder."""

    __tablename__ = "audit_checkpoints"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    chain_hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    events: Mapped[int] = mapped_column(BigInteger)  # sealed by this run
    certificate: Mapped[str] = mapped_column(String(64))  # SHA-256 of the signing certificate's DER
    signature: Mapped[str] = mapped_column(Text)  # base64, RSASSA-PKCS1-v1_5 SHA-256 of the payload


# --- clients: grants, API clients, OAuth 2.0 access tokens (accounts.grants, accounts.clients) ---


class Grant(Base):
    """What an organisation may exchange: one row per (organisation, kind, direction)."""

    __tablename__ = "grants"
    __table_args__ = (UniqueConstraint("organisation_id", "kind", "direction"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    kind: Mapped[str] = mapped_column(String(30))
    direction: Mapped[str] = mapped_column(String(10))  # send, receive
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiClient(Base):
    """An organisation's server, known by its public key (private_key_jwt, RFC 7523)."""

    __tablename__ = "api_clients"
    __table_args__ = (Index("ix_api_clients_organisation", "organisation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(40), unique=True)  # public, random
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    label: Mapped[str] = mapped_column(String(100), default="")
    public_key: Mapped[str] = mapped_column(Text)  # PEM (SubjectPublicKeyInfo)
    key_type: Mapped[str] = mapped_column(String(12))  # RSA-2048, RSA-3072, EC-P256, ...
    key_fingerprint: Mapped[str] = mapped_column(String(64))  # SHA-256 of the DER public key
    certificate_id: Mapped[int | None] = mapped_column(ForeignKey("certificates.id"))  # when taken from one
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # last token issued
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class AccessToken(Base):
    """An access token issued to a client: only its SHA-256 is kept, with its scope and expiry."""

    __tablename__ = "access_tokens"
    __table_args__ = (Index("ix_access_tokens_expires_at", "expires_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("api_clients.id"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    scope: Mapped[str] = mapped_column(Text)  # kind:direction, space-separated
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class UsedAssertion(Base):
    """The ``jti`` of every client assertion accepted, kept until the assertion expires, so that
    none is accepted twice."""

    __tablename__ = "used_assertions"
    __table_args__ = (Index("ix_used_assertions_expires_at", "expires_at"),)

    client_id: Mapped[int] = mapped_column(ForeignKey("api_clients.id"), primary_key=True)
    jti: Mapped[str] = mapped_column(String(200), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ContactOffice(Base):
    """An organisation's office as the contact directory shows it: its public phone and address."""

    __tablename__ = "contact_offices"

    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    phone: Mapped[str] = mapped_column(String(30), default="")
    address: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ContactPerson(Base):
    """A contact person (聯繫窗口) of an organisation: whom the others call about an exchange."""

    __tablename__ = "contact_people"
    __table_args__ = (Index("ix_contact_people_organisation_id", "organisation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    name: Mapped[str] = mapped_column(String(60))
    title: Mapped[str] = mapped_column(String(60), default="")
    phone: Mapped[str] = mapped_column(String(30), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- notifications, webhooks, the outbox and expected files (aedx.notify, aedx.exchange.expected) ---


class Notification(Base):
    """One event shown to one person in the portal; the event's facts, never personal data."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_user_id_id", "user_id", "id"),
        Index("ix_notifications_subject", "subject"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    event: Mapped[str] = mapped_column(String(30))  # aedx.notify.events.Event
    link: Mapped[str] = mapped_column(String(200))  # the portal page concerned
    params: Mapped[str] = mapped_column(Text)  # JSON: kind, submission, counts, day
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    subject: Mapped[str | None] = mapped_column(String(80))  # submission:<id>, delivery:<id>
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # no longer true: not shown
    settled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # what it asked for is done
    settled_as: Mapped[str | None] = mapped_column(String(20))  # downloaded, acknowledged
    settled_by: Mapped[str | None] = mapped_column(String(10))  # api, portal


class NotificationPreference(Base):
    """A person's choice for one event and channel; without a row the default applies."""

    __tablename__ = "notification_preferences"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    event: Mapped[str] = mapped_column(String(30), primary_key=True)
    channel: Mapped[str] = mapped_column(String(10), primary_key=True)  # in_app, email, digest
    enabled: Mapped[bool] = mapped_column(Boolean)


class NotificationDigest(Base):
    """The daily digest e-mail made for one person on one day (Taipei): at most one."""

    __tablename__ = "notification_digests"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    entries: Mapped[int] = mapped_column(Integer)
    message_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("outbox.id"))
    made_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Webhook(Base):
    """An organisation's endpoint for signed event notices; the secret sealed (aedx.trust.vault)."""

    __tablename__ = "webhooks"
    __table_args__ = (Index("ix_webhooks_organisation_id", "organisation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    url: Mapped[str] = mapped_column(String(500))
    secret_sealed: Mapped[str] = mapped_column(Text)  # base64, AES-256-GCM under the data keys
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class OutboxMessage(Base):
    """An e-mail or a webhook call to make: written with the event, sent by a worker that leases
    it, retried with back-off, given up after a number of attempts."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_state_due", "state", "due_at"),
        Index("ix_outbox_webhook_id_id", "webhook_id", "id"),
        Index("ix_outbox_subject", "subject"),
        Index("ix_outbox_channel_state_user_id", "channel", "state", "user_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(10))  # email, webhook, digest (kept for a daily e-mail)
    event: Mapped[str] = mapped_column(String(30))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # e-mail: the address at sending
    webhook_id: Mapped[int | None] = mapped_column(ForeignKey("webhooks.id"))
    body: Mapped[str] = mapped_column(Text)  # JSON: the event
    # pending, sent, failed, skipped; withdrawn (no longer true before it went); for a digest
    # entry: held until the day's digest, then digested
    state: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    leased_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    leased_by: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    subject: Mapped[str | None] = mapped_column(String(80))  # as the notification's


class OutboxAttempt(Base):
    """Each attempt at an outbox message: when, the HTTP status or the error."""

    __tablename__ = "outbox_attempts"
    __table_args__ = (Index("ix_outbox_attempts_message_id", "message_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[int | None] = mapped_column(SmallInteger)  # HTTP status of a webhook call
    error: Mapped[str | None] = mapped_column(String(500))


class ExpectedFile(Base):
    """A file an organisation should send: of a kind, by a time of day (Taipei), on working days."""

    __tablename__ = "expected_files"
    __table_args__ = (UniqueConstraint("organisation_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    kind: Mapped[str] = mapped_column(String(30))
    due_minute: Mapped[int] = mapped_column(SmallInteger)  # minutes after midnight, Taipei time
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class MissingFile(Base):
    """An expected file that had not arrived by its time, noticed once per day."""

    __tablename__ = "missing_files"
    __table_args__ = (UniqueConstraint("organisation_id", "kind", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    kind: Mapped[str] = mapped_column(String(30))
    day: Mapped[dt.date] = mapped_column(Date, index=True)
    noticed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


# The exchange monitor reads submissions by day and transitions by action and time.
Index("ix_submissions_received_at", Submission.received_at)
Index("ix_audit_events_action_at", AuditEvent.action, AuditEvent.at)


class UploadSession(Base):
    """A large file sent in chunks. The bytes received so far are kept under ``uploads/ID``;
    completing the session hands the whole file to intake, as one upload of it would be."""

    __tablename__ = "upload_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    actor: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(30))
    format: Mapped[str] = mapped_column(String(10))
    encoding: Mapped[str] = mapped_column(String(10))
    filename: Mapped[str | None] = mapped_column(String(200))
    idempotency_key: Mapped[str | None] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)  # declared
    sha256: Mapped[str] = mapped_column(String(64))  # declared, of the bytes as sent (the envelope)
    received: Mapped[int] = mapped_column(BigInteger, default=0)
    state: Mapped[str] = mapped_column(String(15))  # open, completed, failed
    submission_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class RateLimitCounter(Base):
    """A fixed-window counter of the rate limits (``aedx.api.ratelimit``), shared by the API
    processes on PostgreSQL; the embedded platform counts in memory."""

    __tablename__ = "rate_limit_counters"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[float] = mapped_column(Float, index=True)  # seconds since the epoch


class RefusalWindow(Base):
    """Repeated refusals of one actor and action, counted for a while and then written to the audit
    log as one event with their number (``aedx.trust.refusals``)."""

    __tablename__ = "refusal_windows"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of actor … object_id
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50))
    organisation_id: Mapped[int | None] = mapped_column(Integer)
    object_type: Mapped[str | None] = mapped_column(String(30))
    object_id: Mapped[str | None] = mapped_column(String(64))
    repeats: Mapped[int] = mapped_column(Integer)  # refusals since the last written event
    detail: Mapped[str | None] = mapped_column(Text)  # of the latest refusal, JSON
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
