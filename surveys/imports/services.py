"""Writes for imports: upload, mapping, the dry run, confirmation, the import itself, and
the relay that resumes stalled jobs (how the rows are handed on: surveys/imports/handoff.py).

How an import keeps its promises:
- A chunk of rows is one transaction: its rows (each whole, or not at all), its row problems,
  one ImportChunk with its outbox event, and the job's checkpoint (compare-and-swap). A worker
  killed mid-file loses at most the chunk in flight; the redelivered task (acks_late) or the
  relay starts after the checkpoint, and the import key's unique constraint would refuse a
  second copy of a row anyway.
- Each committed chunk's outbox event opens the follow-up cases of its low scores in bulk and
  brings its responses into the metrics: one by one for a small import (the same incremental
  path as a web response), or, for a big import, by one rebuild of its quarters at the end.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import status

from accounts.models import User
from csat.errors import ApplicationError
from csat.models import OutboxEvent
from csat.outbox import outbox_record
from surveys.imports import files
from surveys.imports.files import Cell, ImportFileError
from surveys.imports.handoff import import_job_finish
from surveys.imports.models import ImportChunk, ImportFilePart, ImportJob, ImportRowError
from surveys.imports.schemas import ChunkResult, Problem, RowSchema, schema_for
from surveys.imports.writers import Writer, Written, write_chunk, writer_for
from surveys.models import Survey

Status = ImportJob.Status
IMPORT_LOCK_CLASS = 0x696D7074  # "impt": the advisory-lock class of import jobs


class JobMoved(Exception):
    """The job's row changed under the pass (cancelled, or taken by another worker)."""


# ---------------------------------------------------------------- upload and mapping


def _refuse(field: str, message: str, status_code: int = status.HTTP_400_BAD_REQUEST) -> None:
    raise ApplicationError(message, {field: [message]}, status_code)


def import_job_create(
    *, kind: str, survey: Survey | None, upload: Any, user: User | None
) -> ImportJob:
    """Store an uploaded file with its job, recognise it and guess the column mapping; a file
    that cannot be read is refused and nothing is stored."""
    errors: dict[str, list[str]] = {}
    if kind not in ImportJob.Kind.values:
        errors["kind"] = [_("Choose what the file holds.")]
    elif kind == ImportJob.Kind.RESPONSES and survey is None:
        errors["survey"] = [_("Choose the survey the responses answer.")]
    if upload is None:
        errors["file"] = [_("Choose a CSV or XLSX file.")]
    if errors:
        raise ApplicationError(_("The file could not be uploaded."), errors)
    if upload.size > files.max_file_bytes():
        _refuse("file", files.too_large_message(), status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if not upload.size:
        _refuse("file", _("The file is empty."))
    upload.seek(0)
    head = upload.read(files.SAMPLE_SIZE)
    upload.seek(0)
    file_format = files.detect_format(upload.name or "", head)
    with transaction.atomic():
        job = ImportJob.objects.create(
            kind=kind,
            survey=survey if kind == ImportJob.Kind.RESPONSES else None,
            file_name=(upload.name or "")[:255],
            file_size=upload.size,
            file_format=file_format,
            created_by=user,
        )
        files.file_store(job, upload)
        shape = files.file_inspect(job)
        job.headers = shape.headers
        job.preview = [[number, cells] for number, cells in shape.preview]
        job.mapping = {target: index for index, target in schema_for(job).guess_mapping().items()}
        job.save()
    return job


def import_job_set_mapping(*, job: ImportJob, columns: Mapping[int, str]) -> ImportJob:
    """Map the file's columns (column index -> target; "" leaves a column out), then check
    every row in a dry run."""
    if job.status not in (Status.MAPPING, Status.VALIDATED):
        _refuse("mapping", _("This import has started: its mapping can no longer change."))
    schema = schema_for(job)
    known = {target.name: target for target in schema.targets}
    errors: dict[str, list[str]] = {}
    mapping: dict[str, int] = {}
    for index, target in sorted(columns.items()):
        if not target:
            continue
        field = f"column_{index}"
        if index < 0 or index >= len(job.headers):
            errors[field] = [_("The file has no such column.")]
        elif target not in known:
            errors[field] = [_("Unknown target: choose one from the list.")]
        elif target in mapping:
            errors[field] = [
                _("%(target)s is already mapped to column %(column)s.")
                % {"target": known[target].label, "column": mapping[target] + 1}
            ]
        else:
            mapping[target] = index
    schema.mapping = mapping
    problems = schema.mapping_errors()
    if problems:
        errors["mapping"] = problems
    if errors:
        raise ApplicationError(_("The column mapping needs attention."), errors)
    with transaction.atomic():
        updated = ImportJob.objects.filter(pk=job.pk, status=job.status).update(
            mapping=mapping,
            status=Status.VALIDATING,
            progress_percent=0,
            rows_total=None,
            rows_done=0,
            rows_valid=0,
            rows_invalid=0,
            rows_existing=0,
            message="",
            attempts=0,
            heartbeat_at=timezone.now(),
        )
        if not updated:
            _refuse("mapping", _("This import has started: its mapping can no longer change."))
        _enqueue("validate", job.pk)
    job.refresh_from_db()
    return job


def import_job_confirm(*, job: ImportJob) -> ImportJob:
    """Start the import of a checked file's valid rows."""
    if job.status != Status.VALIDATED:
        _refuse("status", _("Only a checked file can be imported."))
    if not job.rows_valid:
        _refuse("status", _("Nothing to import: every row has a problem."))
    # A big import brings its quarters into the answer rollups with one rebuild at the end;
    # a small one applies each response like a web response (metrics.services).
    rebuilds = (
        job.kind == ImportJob.Kind.RESPONSES
        and job.rows_valid > settings.IMPORT_INCREMENTAL_MAX_ROWS
    )
    with transaction.atomic():
        updated = ImportJob.objects.filter(pk=job.pk, status=Status.VALIDATED).update(
            status=Status.QUEUED,
            rebuilds_rollups=rebuilds,
            progress_percent=0,
            rows_done=0,
            attempts=0,
            message="",
            heartbeat_at=timezone.now(),
        )
        if not updated:
            _refuse("status", _("Only a checked file can be imported."))
        _enqueue("run", job.pk)
    job.refresh_from_db()
    return job


def import_job_cancel(*, job: ImportJob) -> ImportJob:
    """Drop a file that has not been imported (its dry run may be running)."""
    with transaction.atomic():
        updated = ImportJob.objects.filter(
            pk=job.pk, status__in=[Status.MAPPING, Status.VALIDATING, Status.VALIDATED]
        ).update(status=Status.CANCELLED, finished_at=timezone.now())
        if not updated:
            _refuse("status", _("An import that has started cannot be cancelled."))
        ImportFilePart.objects.filter(job_id=job.pk).delete()
    job.refresh_from_db()
    return job


def _enqueue(step: str, job_id: int) -> None:
    """Send the job's task once the transaction commits; a broker outage leaves the job to
    the relay (its heartbeat goes stale)."""
    from surveys.imports import tasks

    task = tasks.import_validate if step == "validate" else tasks.import_run
    transaction.on_commit(lambda: task.delay(job_id), robust=True)


# ---------------------------------------------------------------- running a pass


@contextmanager
def job_lock(job_id: int) -> Iterator[bool]:
    """One worker at a time per job: a session advisory lock, released when the worker's
    connection ends, so a killed worker's successor gets it at once (PostgreSQL; SQLite has a
    single writer)."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [IMPORT_LOCK_CLASS, job_id])
        acquired = bool(cursor.fetchone()[0])
    try:
        yield acquired
    finally:
        if acquired:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [IMPORT_LOCK_CLASS, job_id])
            except DatabaseError:
                pass  # a lost connection took the lock with it; keep the original error


def _chunks(
    rows: Iterator[tuple[int, list[Cell]]], size: int
) -> Iterator[list[tuple[int, list[Cell]]]]:
    chunk: list[tuple[int, list[Cell]]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _percent(done: float, total: float) -> int:
    return max(0, min(99, int(100 * done / total))) if total else 0


def _store_problems(job: ImportJob, problems: Sequence[Problem]) -> None:
    ImportRowError.objects.bulk_create(
        [
            ImportRowError(
                job_id=job.pk,
                row=problem.row,
                column=problem.column[:200],
                value=problem.value[:200],
                message=problem.message[:500],
            )
            for problem in problems
        ],
        batch_size=1000,
    )


def import_job_validate(job_id: int) -> bool:
    """The dry run: read every row, list every problem, count the rows that would be
    imported. Runs again from the start when redelivered; True when it ran."""
    with job_lock(job_id) as acquired:
        if not acquired:
            return False
        claimed = ImportJob.objects.filter(pk=job_id, status=Status.VALIDATING).update(
            attempts=F("attempts") + 1, heartbeat_at=timezone.now()
        )
        if not claimed:
            return False
        job = ImportJob.objects.get(pk=job_id)
        ImportRowError.objects.filter(job=job).delete()
        schema = schema_for(job)
        counts = {"rows_done": 0, "rows_valid": 0, "rows_invalid": 0, "rows_existing": 0}
        try:
            with files.open_rows(job) as reader:
                for chunk in _chunks(iter(reader), settings.IMPORT_CHUNK_ROWS):
                    result = schema.parse_chunk(chunk)
                    _store_problems(job, result.problems)
                    counts["rows_done"] += len(chunk)
                    counts["rows_valid"] += len(result.rows)
                    counts["rows_invalid"] += result.invalid
                    counts["rows_existing"] += len(
                        schema.existing_keys([row.key for row in result.rows])
                    )
                    moved = not ImportJob.objects.filter(
                        pk=job_id, status=Status.VALIDATING
                    ).update(
                        **counts,
                        progress_percent=_percent(reader.fraction_read(), 1),
                        heartbeat_at=timezone.now(),
                    )
                    if moved:
                        return False
        except ImportFileError as error:
            ImportJob.objects.filter(pk=job_id, status=Status.VALIDATING).update(
                status=Status.FAILED, message=str(error), finished_at=timezone.now()
            )
            ImportFilePart.objects.filter(job_id=job_id).delete()
            return True
        ImportJob.objects.filter(pk=job_id, status=Status.VALIDATING).update(
            **counts,
            status=Status.VALIDATED,
            rows_total=counts["rows_done"],
            progress_percent=100,
            heartbeat_at=timezone.now(),
        )
        return True


def _commit_chunk(
    job: ImportJob,
    schema: RowSchema,
    writer: Writer,
    rows: list[tuple[int, list[Cell]]],
) -> None:
    """One transaction: the chunk's rows, problems, chunk record and outbox event, and the
    job's checkpoint moved by compare-and-swap."""
    result: ChunkResult = schema.parse_chunk(rows)
    with transaction.atomic():
        written = write_chunk(writer, job, result.rows) if result.rows else Written()
        _store_problems(job, result.problems)
        chunk = ImportChunk.objects.create(
            job=job,
            first_row=rows[0][0],
            last_row=rows[-1][0],
            first_object_id=written.first_id,
            last_object_id=written.last_id,
            created_count=written.created,
            quarters=written.quarters,
        )
        if written.created and job.kind != ImportJob.Kind.CUSTOMERS:
            outbox_record(OutboxEvent.Kind.IMPORT_CHUNK, chunk.pk)
        done = job.rows_done + len(rows)
        moved = not ImportJob.objects.filter(
            pk=job.pk, status=Status.RUNNING, rows_checkpoint=job.rows_checkpoint
        ).update(
            rows_checkpoint=rows[-1][0],
            rows_done=done,
            rows_imported=F("rows_imported") + written.created,
            rows_updated=F("rows_updated") + written.updated,
            rows_skipped=F("rows_skipped") + written.skipped,
            rows_invalid=F("rows_invalid") + result.invalid,
            progress_percent=_percent(done, job.rows_total or done),
            heartbeat_at=timezone.now(),
        )
        if moved:
            raise JobMoved(job.pk)
    job.rows_checkpoint, job.rows_done = rows[-1][0], done


def import_job_run(job_id: int, *, use_copy: bool | None = None) -> bool:
    """The import: every row after the checkpoint, chunk by chunk, then the hand-off to the
    metrics. Resumes after the checkpoint when redelivered; True when it ran."""
    with job_lock(job_id) as acquired:
        if not acquired:
            return False
        now = timezone.now()
        claimed = ImportJob.objects.filter(
            pk=job_id, status__in=[Status.QUEUED, Status.RUNNING]
        ).update(
            status=Status.RUNNING,
            started_at=Coalesce(F("started_at"), now),
            heartbeat_at=now,
            attempts=F("attempts") + 1,
        )
        job = ImportJob.objects.select_related("survey").get(pk=job_id)
        if not claimed:
            if job.status != Status.APPLYING:
                return False
            import_job_finish(job)
            return True
        if job.rows_checkpoint == 0:
            # A fresh import re-checks every row: the dry run's report is replaced.
            ImportRowError.objects.filter(job=job).delete()
            ImportJob.objects.filter(pk=job_id).update(rows_invalid=0)
        else:
            ImportRowError.objects.filter(job=job, row__gt=job.rows_checkpoint).delete()
        schema = schema_for(job)
        writer = writer_for(job, use_copy)
        try:
            with files.open_rows(job) as reader:
                rows = iter(reader)
                pending: list[tuple[int, list[Cell]]] = []
                for number, cells in rows:
                    if number <= job.rows_checkpoint:
                        schema.remember(number, cells)
                        continue
                    pending.append((number, cells))
                    if len(pending) >= settings.IMPORT_CHUNK_ROWS:
                        _commit_chunk(job, schema, writer, pending)
                        pending = []
                if pending:
                    _commit_chunk(job, schema, writer, pending)
        except JobMoved:
            return False
        except ImportFileError as error:
            message = _("The import stopped: %(problem)s The rows before it were imported.") % {
                "problem": error
            }
            ImportJob.objects.filter(pk=job_id).update(message=message)
            import_job_finish(job, failed=True)
            return True
        except Exception as error:
            # Left running: the relay starts it again after its heartbeat goes stale.
            ImportJob.objects.filter(pk=job_id).update(message=repr(error)[:2000])
            raise
        import_job_finish(job)
        return True


# ---------------------------------------------------------------- relay


def import_jobs_resume_stalled(now: datetime | None = None) -> int:
    """Periodic: send again the task of every job whose worker stopped reporting (a broker
    outage at enqueue time, a worker that died); fail a job after too many attempts."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.IMPORT_STALLED_AFTER_SECONDS)
    resumed = 0
    stalled = ImportJob.objects.filter(
        status__in=ImportJob.ACTIVE_STATUSES, heartbeat_at__lt=cutoff
    ).order_by("heartbeat_at")[:100]
    for job in stalled:
        if job.attempts >= settings.IMPORT_MAX_ATTEMPTS:
            message = _("The import stopped after %(count)s attempts: %(problem)s") % {
                "count": job.attempts,
                "problem": job.message or _("its worker stopped reporting."),
            }
            ImportJob.objects.filter(pk=job.pk, heartbeat_at=job.heartbeat_at).update(
                status=Status.FAILED, message=message, finished_at=now
            )
            continue
        # Touched first (compare-and-swap), so two relays do not both send it.
        with transaction.atomic():
            if ImportJob.objects.filter(pk=job.pk, heartbeat_at=job.heartbeat_at).update(
                heartbeat_at=now
            ):
                _enqueue("validate" if job.status == Status.VALIDATING else "run", job.pk)
                resumed += 1
    return resumed
