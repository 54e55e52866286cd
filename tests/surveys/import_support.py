"""Helpers for the import tests: upload a file, run the whole flow, drain the outbox."""

from __future__ import annotations

from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import User
from csat.outbox import outbox_drain
from surveys.imports import services
from surveys.imports.models import ImportJob
from surveys.models import Question, Survey


def upload(
    content: str | bytes,
    *,
    survey: Survey | None = None,
    kind: str = ImportJob.Kind.RESPONSES,
    name: str = "responses.csv",
    user: User | None = None,
) -> ImportJob:
    data = content.encode() if isinstance(content, str) else content
    return services.import_job_create(
        kind=kind, survey=survey, upload=SimpleUploadedFile(name, data), user=user
    )


def check(job: ImportJob, columns: dict[int, str]) -> ImportJob:
    """Map the columns and run the dry run (the validation task's service)."""
    services.import_job_set_mapping(job=job, columns=columns)
    assert services.import_job_validate(job.pk)
    job.refresh_from_db()
    return job


def run(job: ImportJob, **options: Any) -> ImportJob:
    """Confirm a checked job and run the import task's service."""
    services.import_job_confirm(job=job)
    assert services.import_job_run(job.pk, **options)
    job.refresh_from_db()
    return job


def import_file(content: str | bytes, columns: dict[int, str], **upload_options: Any) -> ImportJob:
    return run(check(upload(content, **upload_options), columns))


drain_outbox = outbox_drain


def nps_columns(survey: Survey) -> dict[int, str]:
    """The columns of RESPONSES_CSV mapped onto an NPS survey with a "why?" question."""
    nps = survey.questions.get(kind=Question.Kind.NPS)
    why = survey.questions.get(kind=Question.Kind.TEXT)
    return {
        0: "key",
        1: "submitted_at",
        2: "customer",
        3: "agent",
        4: "touchpoint",
        5: f"q{nps.pk}",
        6: f"q{why.pk}",
    }


RESPONSES_HEADER = "response_id,submitted_at,customer,agent,touchpoint,score,why\n"
