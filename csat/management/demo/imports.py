"""The sample files of docs/imports/ imported as staff import them (upload, map the columns,
check every row, confirm, import), through the import services run in this process: the
worker's tasks are the same services, and the demo needs no worker to load."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import User
from surveys.imports import services
from surveys.imports.models import ImportJob
from surveys.models import Survey

SAMPLES = Path(settings.BASE_DIR) / "docs" / "imports"
# The panel export answers the after-sales NPS survey (README, "Importing files").
RESPONSES_SURVEY = "After-sales support: how likely are you to recommend us?"


def import_sample(name: str, kind: str, user: User, survey: Survey | None = None) -> ImportJob:
    """Import one sample file with the column mapping the upload guessed from its headers."""
    upload = SimpleUploadedFile(name, (SAMPLES / name).read_bytes())
    job = services.import_job_create(kind=kind, survey=survey, upload=upload, user=user)
    columns = {index: target for target, index in job.mapping.items()}
    job = services.import_job_set_mapping(job=job, columns=columns)
    services.import_job_validate(job.pk)
    job.refresh_from_db()
    job = services.import_job_confirm(job=job)
    services.import_job_run(job.pk)
    job.refresh_from_db()
    return job


def imports_load(user: User) -> list[ImportJob]:
    """The customers (Chinese headers and values), the panel's responses (three bad rows for
    the report) and the purchases samples; none when the samples are not there (the
    production image leaves docs/ out)."""
    if not (SAMPLES / "responses-sample.csv").exists():
        return []
    survey = Survey.objects.get(title=RESPONSES_SURVEY)
    return [
        import_sample("customers-sample.csv", ImportJob.Kind.CUSTOMERS, user),
        import_sample("responses-sample.csv", ImportJob.Kind.RESPONSES, user, survey),
        import_sample("purchases-sample.csv", ImportJob.Kind.PURCHASES, user),
    ]
