"""Frozen quarters and the retention purge.

A frozen quarter's figures are a snapshot: no worker changes them unless an admin asks for a
recompute that includes frozen quarters. The retention purge deletes old responses, some of
them counted in frozen quarters; it leaves those snapshots alone and records here how many
counted responses each one still includes, so the admin is told what such a recompute would
do (drop them from the quarter's figures) before asking for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from metrics.models import FrozenQuarter, RecomputeJob


def frozen_among(quarters: Iterable[str]) -> set[str]:
    """The frozen quarters among these labels."""
    return set(
        FrozenQuarter.objects.filter(quarter__in=list(quarters)).values_list("quarter", flat=True)
    )


def _recomputed_since(quarter: str, moment: datetime) -> bool:
    """Whether a recompute that includes frozen quarters covered the quarter after `moment`
    (its figures then no longer include what was deleted before)."""
    jobs = RecomputeJob.objects.filter(
        status=RecomputeJob.Status.DONE, include_frozen=True, finished_at__gte=moment
    ).values_list("quarters", flat=True)
    return any(not quarters or quarter in quarters for quarters in jobs)


@transaction.atomic
def frozen_purge_record(counts: Mapping[str, int], at: datetime) -> None:
    """Record counted responses of frozen quarters deleted by the retention purge."""
    for row in FrozenQuarter.objects.select_for_update().filter(
        quarter__in=[quarter for quarter, count in counts.items() if count]
    ):
        if row.purged_at is not None and _recomputed_since(row.quarter, row.purged_at):
            row.purged_responses = 0  # a recompute already took the earlier ones out
        row.purged_responses += counts[row.quarter]
        row.purged_at = at
        row.save(update_fields=["purged_responses", "purged_at"])


@dataclass(frozen=True)
class PurgedSnapshot:
    quarter: str
    responses: int
    purged_at: datetime


def frozen_purged_snapshots() -> list[PurgedSnapshot]:
    """Frozen quarters whose figures still include responses the purge has deleted."""
    return [
        PurgedSnapshot(row.quarter, row.purged_responses, row.purged_at)
        for row in FrozenQuarter.objects.filter(
            purged_responses__gt=0, purged_at__isnull=False
        ).order_by("quarter")
        if row.purged_at is not None and not _recomputed_since(row.quarter, row.purged_at)
    ]
