"""Row schemas: what a file's columns can be mapped to, and how a row of each kind is read.

Each schema is compiled once per pass from the mapping and checks a whole chunk of rows at a
time (one database look-up per chunk for its customers), so a million rows cost Python time,
not round trips.
"""

from __future__ import annotations

from surveys.imports.models import ImportJob
from surveys.imports.schemas.base import (
    ChunkResult,
    Problem,
    QuarterPlacer,
    RowProblems,
    RowSchema,
    Target,
    batched,
    parse_moment,
)
from surveys.imports.schemas.contacts import (
    CustomerRow,
    CustomerSchema,
    PurchaseRow,
    PurchaseSchema,
)
from surveys.imports.schemas.responses import ResponseRow, ResponseSchema

SCHEMAS: dict[str, type[RowSchema]] = {
    ImportJob.Kind.RESPONSES: ResponseSchema,
    ImportJob.Kind.CUSTOMERS: CustomerSchema,
    ImportJob.Kind.PURCHASES: PurchaseSchema,
}


def schema_for(job: ImportJob) -> RowSchema:
    return SCHEMAS[job.kind](job)


__all__ = [
    "ChunkResult",
    "CustomerRow",
    "CustomerSchema",
    "Problem",
    "PurchaseRow",
    "PurchaseSchema",
    "QuarterPlacer",
    "ResponseRow",
    "ResponseSchema",
    "RowProblems",
    "RowSchema",
    "Target",
    "batched",
    "parse_moment",
    "schema_for",
]
