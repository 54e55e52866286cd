"""Retention: responses older than their survey's retention period are deleted.

The quarters they counted in are recomputed from the remaining rows, except frozen quarters:
their figures are snapshots that stay as they are (metrics/frozen.py records what they still
include, and the admin's recompute page says what recomputing them would change)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models.functions import Coalesce
from django.utils import timezone

from metrics.frozen import frozen_among, frozen_purge_record
from metrics.services import metrics_request_recompute
from surveys.models import Answer, Response, Survey

PURGE_BATCH = 2000


def responses_purge_expired(now: datetime | None = None) -> int:
    """Delete the responses (and answers) older than their survey's retention period;
    returns how many were deleted. Safe to run twice: a second run finds nothing."""
    now = now or timezone.now()
    deleted = 0
    for survey_id, days in Survey.objects.filter(retention_days__isnull=False).values_list(
        "pk", "retention_days"
    ):
        cutoff = now - timedelta(days=days)
        while True:
            batch = _purge_batch(survey_id, cutoff)
            deleted += batch
            if batch < PURGE_BATCH:
                break
    return deleted


def _purge_batch(survey_id: int, cutoff: datetime) -> int:
    """One transaction: delete up to PURGE_BATCH expired responses of a survey and ask the
    metrics engine to rebuild the quarters they counted in."""
    with transaction.atomic():
        # A complete response ages from its submission, a partial one from when it was saved.
        rows = list(
            Response.objects.annotate(stamp=Coalesce("submitted_at", "created_at"))
            .filter(survey_id=survey_id, stamp__lt=cutoff)
            .order_by("pk")
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("pk", "quarter", "invitation__quarter", "status", "is_test", "is_spam")[
                :PURGE_BATCH
            ]
        )
        if not rows:
            return 0
        ids = [row[0] for row in rows]
        # Rollups only hold responses that counted; those quarters (and, for response rate,
        # their invitations' send quarters) are rebuilt from the remaining rows after commit.
        # Frozen quarters keep their snapshot: recorded, not rebuilt.
        quarters = {label for row in rows if row[1] for label in (row[1], row[2]) if label}
        frozen = frozen_among(quarters)
        counted = Counter(
            quarter
            for _pk, quarter, _sent, status, is_test, is_spam in rows
            if quarter in frozen
            and status == Response.Status.COMPLETE
            and not is_test
            and not is_spam
        )
        Answer.objects.filter(response_id__in=ids).delete()
        Response.objects.filter(pk__in=ids).delete()
        frozen_purge_record(counted, timezone.now())
        if quarters - frozen:
            metrics_request_recompute(reason="retention purge", quarters=sorted(quarters - frozen))
        return len(ids)
