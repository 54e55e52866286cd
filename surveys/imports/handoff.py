"""How imported rows reach the rest of the product.

- Each committed chunk's outbox event (`import_chunk_apply`) opens the follow-up cases of its
  low scores in bulk, and brings a small import's responses into the metrics one by one, the
  same incremental path as a web response; purchases go through metrics_apply_purchase.
- The end of a job (`import_job_finish`) refreshes the tables' statistics and, for a big
  import, rebuilds its quarters' answer rollups once (per-response updates would crawl). The
  big import's responses were stored with `in_rollup` already set (surveys/imports/writers.py),
  which is what the rebuild counts, so it has no flags to flip. Until that rebuild ends, the
  rollups lack them; a job interrupted before it is resumed at this step by the relay (its
  status stays "applying").
"""

from __future__ import annotations

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from feedback.services import cases_open_for_responses
from metrics.models import PeriodRollup
from metrics.services import (
    metrics_apply_purchase,
    metrics_apply_response,
    metrics_mark_dirty,
    metrics_rebuild,
)
from surveys.imports.models import ImportChunk, ImportFilePart, ImportJob
from surveys.models import Channel, Purchase, Response

Status = ImportJob.Status


def import_chunk_apply(chunk_id: int) -> None:
    """Outbox handler of a committed chunk (idempotent): open the follow-up cases of its low
    scores in bulk, and bring its rows into the metrics."""
    chunk = ImportChunk.objects.select_related("job").filter(pk=chunk_id).first()
    if chunk is None or chunk.first_object_id is None or chunk.last_object_id is None:
        return
    job = chunk.job
    id_range = (chunk.first_object_id, chunk.last_object_id)
    if job.kind == ImportJob.Kind.RESPONSES:
        # Other writers may hold ids inside the range: only imported responses are taken, and
        # taking another import's rows as well is harmless (every step is idempotent).
        response_ids = list(
            Response.objects.filter(pk__range=id_range, channel=Channel.IMPORT)
            .exclude(import_key="")
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        cases_open_for_responses(response_ids)
        if job.rebuilds_rollups:
            # The answers wait for the job's rebuild; the per-period families are marked now.
            metrics_mark_dirty(
                chunk.quarters, [PeriodRollup.Family.REACH, PeriodRollup.Family.REPURCHASE]
            )
        else:
            for response_id in response_ids:
                metrics_apply_response(response_id)
    elif job.kind == ImportJob.Kind.PURCHASES:
        purchase_ids = (
            Purchase.objects.filter(pk__range=id_range)
            .exclude(external_id="")
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        for purchase_id in purchase_ids:
            metrics_apply_purchase(purchase_id)
    ImportChunk.objects.filter(pk=chunk_id, applied_at__isnull=True).update(
        applied_at=timezone.now()
    )


def import_job_finish(job: ImportJob, failed: bool = False) -> None:
    """Hand a job's imported rows on (a big import rebuilds its quarters' rollups once),
    then close the job and drop its file."""
    quarters = sorted(
        {label for labels in job.chunks.values_list("quarters", flat=True) for label in labels}
    )
    ImportJob.objects.filter(pk=job.pk, status__in=[Status.RUNNING, Status.APPLYING]).update(
        status=Status.APPLYING, quarters=quarters, heartbeat_at=timezone.now()
    )
    imported = ImportJob.objects.filter(pk=job.pk).values_list("rows_imported", flat=True)[0]
    if connection.vendor == "postgresql" and imported > settings.IMPORT_CHUNK_ROWS:
        # Fresh statistics, so that the hand-off's look-ups by response pick their indexes.
        tables = {
            ImportJob.Kind.RESPONSES: "surveys_response, surveys_answer",
            ImportJob.Kind.CUSTOMERS: "surveys_customer",
            ImportJob.Kind.PURCHASES: "surveys_purchase",
        }[ImportJob.Kind(job.kind)]
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {tables}")
    if job.kind == ImportJob.Kind.RESPONSES and job.rebuilds_rollups and quarters:
        metrics_rebuild(quarters)
    with transaction.atomic():
        ImportJob.objects.filter(pk=job.pk, status=Status.APPLYING).update(
            status=Status.FAILED if failed else Status.DONE,
            progress_percent=100 if not failed else F("progress_percent"),
            finished_at=timezone.now(),
            heartbeat_at=timezone.now(),
        )
        # The uploaded data is not kept once imported: the rows themselves are.
        ImportFilePart.objects.filter(job_id=job.pk).delete()
