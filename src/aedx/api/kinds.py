"""The public specifications of the exchange kinds: anyone may read them, signed in or not, so
that an agency's IT staff can build its export with curl. Derived from the declarations, as the
validation is, with links to sample files of every format and encoding."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from aedx.api.schemas import ERRORS
from aedx.errors import NotFound
from aedx.kinds import KINDS
from aedx.schema import Kind
from aedx.validation.spec import spec_document, summary_of

router = APIRouter(prefix="/api/v1/kinds", tags=["kinds"], responses=ERRORS)
SAMPLES = "/portal/kinds/{name}/sample?format={fmt}&encoding={encoding}"
FORMATS = ("csv", "fixed", "jsonl")
ENCODINGS = ("utf-8", "cp950")


def _links(kind: Kind) -> dict[str, Any]:
    return {
        "spec_page": f"/portal/kinds/{kind.name}",
        "samples": [
            {"format": fmt, "encoding": encoding, "with_errors": errors,
             "url": SAMPLES.format(name=kind.name, fmt=fmt, encoding=encoding)
             + ("&errors=true" if errors else "")}
            for fmt in FORMATS for encoding in ENCODINGS for errors in (False, True)
        ],
    }  # fmt: skip


@router.get("", summary="交換類別 The exchange kinds, with their spec versions")
def kinds() -> list[dict[str, Any]]:
    return [summary_of(k) | {"url": f"/api/v1/kinds/{k.name}"} for k in KINDS.values()]


@router.get("/{kind}", summary="交換類別規格 A kind's fields, types, widths, rules and sample files")
def kind_spec(kind: str) -> dict[str, Any]:
    found = KINDS.get(kind[:40])
    if found is None:
        raise NotFound(f"查無交換類別 {kind[:40]}", f"no exchange kind {kind[:40]}")
    return spec_document(found) | _links(found)
