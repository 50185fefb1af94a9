"""Key rotation of personal data at rest: every sealed obligor still under an older data key is
opened and sealed again under the newest, a batch per transaction, each batch audited. Memory
stays bounded by the batch; a run that stops is resumed by running again, since only rows still
under an older version are chosen. Once no row is left under a version, that key can be removed
from ``AEDX_DATA_KEYS``."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from aedx.exchange import registry
from aedx.storage import bulk
from aedx.storage.tables import Case
from aedx.trust import audit
from aedx.trust.vault import SEPARATOR, Keyring

BATCH = 10_000
RESEALED_TYPES = {"id": "BIGINT", "obligor_sealed": "TEXT", "data_key_version": "SMALLINT", "was": "SMALLINT"}
APPLY = """
UPDATE cases SET obligor_sealed = r.obligor_sealed, data_key_version = r.data_key_version
FROM resealed r WHERE cases.id = r.id AND cases.data_key_version = r.was
"""


@dataclass(frozen=True)
class Batch:
    rows: int  # resealed in this batch
    last_id: int  # the batch's last case id: the next batch starts after it


def versions(session: Session) -> dict[int | None, int]:
    """Rows per data key version (None: rows without a sealed obligor, from before sealing)."""
    stmt = select(Case.data_key_version, func.count()).group_by(Case.data_key_version)
    return {version: int(n) for version, n in session.execute(stmt).all()}


def remaining(session: Session, keyring: Keyring) -> int:
    """Rows still under a version older than the newest."""
    stmt = select(func.count()).where(Case.data_key_version != keyring.current)
    return int(session.scalar(stmt) or 0)


def reseal_batch(
    session: Session, keyring: Keyring, *, actor: str, after_id: int = 0, size: int = BATCH
) -> Batch:
    """Reseal the next ``size`` rows under an older version after ``after_id``, auditing them."""
    stmt = (
        select(Case.id, Case.agency_code, Case.agency_case_no, Case.submission_id, Case.obligor_sealed)
        .add_columns(Case.data_key_version.label("was"))
        .where(Case.data_key_version != keyring.current, Case.id > after_id)
        .order_by(Case.id)
        .limit(size)
    )
    found = pl.DataFrame(
        [dict(r._mapping) for r in session.execute(stmt)],
        schema={
            "id": pl.Int64, "agency_code": pl.String, "agency_case_no": pl.String,
            "submission_id": pl.String, "obligor_sealed": pl.String, "was": pl.Int16,
        },
        orient="row",
    )  # fmt: skip
    if found.height == 0:
        return Batch(0, after_id)
    opened = registry.open_obligors(found, keyring)
    plain = opened.select(pl.concat_str(["obligor_id", "obligor_name"], separator=SEPARATOR)).to_series()
    contexts = opened.select(pl.concat_str(registry.OBLIGOR_CONTEXT, separator=SEPARATOR)).to_series()
    resealed = opened.select(
        "id",
        keyring.seal_column(plain, contexts, registry.OBLIGOR).alias("obligor_sealed"),
        pl.lit(keyring.current, pl.Int16).alias("data_key_version"),
        "was",
    )
    bulk.stage(session, "resealed", resealed, RESEALED_TYPES)
    session.execute(text(APPLY))
    last = int(found["id"].max())  # type: ignore[arg-type]
    from_versions = sorted(int(v) for v in found["was"].unique().to_list())
    audit.record(
        session,
        actor=actor,
        action="keys.rotate",
        object_type="case",
        detail={
            "rows": found.height,
            "from": from_versions,
            "to": keyring.current,
            "first_id": int(found["id"][0]),
            "last_id": last,
        },
    )
    return Batch(found.height, last)
