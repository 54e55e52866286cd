"""Celery tasks of imports: thin wrappers that call a service. Idempotent, acknowledged late
(a worker killed mid-file hands the task to another, which resumes at the checkpoint)."""

from __future__ import annotations

from celery import shared_task

from surveys.imports import services


@shared_task(name="surveys.imports.tasks.import_validate")
def import_validate(job_id: int) -> bool:
    """Check every row of an uploaded file (a second delivery of a finished check does nothing)."""
    return services.import_job_validate(job_id)


@shared_task(name="surveys.imports.tasks.import_run")
def import_run(job_id: int) -> bool:
    """Import a confirmed file, resuming after its last committed chunk."""
    return services.import_job_run(job_id)


@shared_task(name="surveys.imports.tasks.imports_resume_stalled")
def imports_resume_stalled() -> int:
    """Periodic: send again the task of every import whose worker stopped reporting."""
    return services.import_jobs_resume_stalled()
