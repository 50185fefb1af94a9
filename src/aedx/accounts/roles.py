"""Roles and what they permit: the one table every authorisation decision reads.

A person holds one role in one organisation; the organisation's kind decides which roles it may
give. An API client acts for its organisation with the machine permissions; which kinds it may send
or receive is the organisation's grants (``accounts.grants``), not the role.
"""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    ACCOUNTS_MANAGE = "accounts.manage"  # every organisation's users, clients, grants (HQ)
    ACCOUNTS_MANAGE_OWN = "accounts.manage_own"  # the users and API clients of one's organisation
    ORGANISATIONS_MANAGE = "organisations.manage"
    CERTIFICATES_MANAGE = "certificates.manage"
    AUDIT_READ = "audit.read"  # HQ reads every organisation's events, others their own
    AUDIT_VERIFY = "audit.verify"
    EXCHANGE_MONITOR = "exchange.monitor"  # volumes, rejection rates, missing files
    SUBMISSIONS_SEND = "submissions.send"  # within the organisation's grants
    SUBMISSIONS_READ = "submissions.read"  # one's own organisation's, or every one's for HQ
    DELIVERIES_READ = "deliveries.read"  # download and acknowledge packages addressed to one
    CASES_READ = "cases.read"
    PERSONAL_DATA_UNMASK = "personal_data.unmask"  # see IDs and names unmasked; every use is logged
    ANALYTICS_READ = "analytics.read"


class Role(StrEnum):
    HQ_ADMIN = "hq_admin"
    HQ_AUDITOR = "hq_auditor"
    STATISTICIAN = "statistician"
    BRANCH_SUPERVISOR = "branch_supervisor"
    BRANCH_OFFICER = "branch_officer"
    AGENCY_ADMIN = "agency_admin"
    AGENCY_OFFICER = "agency_officer"


P = Permission
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.HQ_ADMIN: frozenset(
        {
            P.ACCOUNTS_MANAGE,
            P.ACCOUNTS_MANAGE_OWN,
            P.ORGANISATIONS_MANAGE,
            P.CERTIFICATES_MANAGE,
            P.AUDIT_READ,
            P.EXCHANGE_MONITOR,
            P.SUBMISSIONS_READ,
        }
    ),
    Role.HQ_AUDITOR: frozenset({P.AUDIT_READ, P.AUDIT_VERIFY, P.EXCHANGE_MONITOR, P.SUBMISSIONS_READ}),
    Role.STATISTICIAN: frozenset({P.ANALYTICS_READ, P.EXCHANGE_MONITOR}),
    Role.BRANCH_SUPERVISOR: frozenset(
        {
            P.ACCOUNTS_MANAGE_OWN,
            P.SUBMISSIONS_SEND,
            P.SUBMISSIONS_READ,
            P.DELIVERIES_READ,
            P.CASES_READ,
            P.PERSONAL_DATA_UNMASK,
            P.AUDIT_READ,
        }
    ),
    Role.BRANCH_OFFICER: frozenset(
        {P.SUBMISSIONS_SEND, P.SUBMISSIONS_READ, P.DELIVERIES_READ, P.CASES_READ, P.PERSONAL_DATA_UNMASK}
    ),
    # Agencies read the cases they referred (``cases.scoped``), masked: they hold no unmasking.
    Role.AGENCY_ADMIN: frozenset(
        {
            P.ACCOUNTS_MANAGE_OWN,
            P.SUBMISSIONS_SEND,
            P.SUBMISSIONS_READ,
            P.DELIVERIES_READ,
            P.AUDIT_READ,
            P.CASES_READ,
        }
    ),
    Role.AGENCY_OFFICER: frozenset({P.SUBMISSIONS_SEND, P.SUBMISSIONS_READ, P.DELIVERIES_READ, P.CASES_READ}),
}

# An API client exchanges files for its organisation and reads its cases, masked; it manages
# nothing and never unmasks personal data (people do, each use audited).
CLIENT_PERMISSIONS = frozenset(
    {P.SUBMISSIONS_SEND, P.SUBMISSIONS_READ, P.DELIVERIES_READ, P.AUDIT_READ, P.CASES_READ}
)

# Which roles an organisation of each kind may give its people.
ORGANISATION_ROLES: dict[str, frozenset[Role]] = {
    "hq": frozenset({Role.HQ_ADMIN, Role.HQ_AUDITOR, Role.STATISTICIAN}),
    "branch": frozenset({Role.BRANCH_SUPERVISOR, Role.BRANCH_OFFICER}),
    "agency": frozenset({Role.AGENCY_ADMIN, Role.AGENCY_OFFICER}),
    "partner": frozenset({Role.AGENCY_ADMIN, Role.AGENCY_OFFICER}),
}

# How people read a role and an organisation's kind (zh-TW, English), in the core's messages.
ROLE_NAMES: dict[Role, tuple[str, str]] = {
    Role.HQ_ADMIN: ("署本部管理者", "HQ administrator"),
    Role.HQ_AUDITOR: ("署本部稽核人員", "HQ auditor"),
    Role.STATISTICIAN: ("統計人員", "statistician"),
    Role.BRANCH_SUPERVISOR: ("分署主管", "branch supervisor"),
    Role.BRANCH_OFFICER: ("分署承辦人", "branch officer"),
    Role.AGENCY_ADMIN: ("機關管理者", "agency administrator"),
    Role.AGENCY_OFFICER: ("機關承辦人", "agency officer"),
}
KIND_NAMES: dict[str, tuple[str, str]] = {
    "hq": ("行政執行署", "HQ"),
    "branch": ("分署", "a branch"),
    "agency": ("移送機關", "a transferring agency"),
    "partner": ("合作機關", "a partner office"),
}

# Roles that must sign in with a second factor (TOTP); HQ roles reach every organisation's data.
MFA_REQUIRED = frozenset({Role.HQ_ADMIN, Role.HQ_AUDITOR, Role.STATISTICIAN})
