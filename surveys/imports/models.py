"""Import jobs: the uploaded file, its column mapping, progress, row problems and chunks.

Imported by surveys/models.py, so these models belong to the surveys app.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ImportJob(models.Model):
    """One uploaded file and its way through mapping, the dry run and the import."""

    class Kind(models.TextChoices):
        RESPONSES = "responses", _("Survey responses")
        CUSTOMERS = "customers", _("Customers")
        PURCHASES = "purchases", _("Purchases")

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "XLSX"

    class Status(models.TextChoices):
        MAPPING = "mapping", _("Waiting for the column mapping")
        VALIDATING = "validating", _("Checking every row")
        VALIDATED = "validated", _("Checked: waiting for confirmation")
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Importing")
        APPLYING = "applying", _("Updating the figures")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    # A task is working on the job (or should be) in these states: the relay resumes them.
    ACTIVE_STATUSES = (Status.VALIDATING, Status.QUEUED, Status.RUNNING, Status.APPLYING)

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    survey = models.ForeignKey(
        "surveys.Survey",
        verbose_name=_("survey"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="import_jobs",
    )
    file_name = models.CharField(_("file name"), max_length=255)
    file_size = models.BigIntegerField(_("file size"))
    file_format = models.CharField(max_length=8, choices=Format.choices)
    # The text encoding a CSV file was read with (utf-8, utf-8-sig or gb18030), its delimiter.
    encoding = models.CharField(max_length=16, blank=True)
    delimiter = models.CharField(max_length=1, blank=True)
    headers = models.JSONField(default=list)
    # The first rows as they are read: [row number, [cell text, ...]], for the mapping page.
    preview = models.JSONField(default=list)
    # Target name -> column index (0-based), e.g. {"key": 0, "submitted_at": 1, "q12": 3}.
    mapping = models.JSONField(default=dict)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.MAPPING
    )
    progress_percent = models.PositiveSmallIntegerField(default=0)
    # Data rows in the file (known after the dry run) and rows the current pass has read.
    rows_total = models.PositiveIntegerField(null=True, blank=True)
    rows_done = models.PositiveIntegerField(default=0)
    # The file row number (the header is row 1) up to which the import has committed: a
    # redelivered task starts after it.
    rows_checkpoint = models.PositiveIntegerField(default=0)
    rows_valid = models.PositiveIntegerField(default=0)
    rows_invalid = models.PositiveIntegerField(default=0)
    # Dry run: valid rows whose key an earlier import already stored (they will be skipped).
    rows_existing = models.PositiveIntegerField(default=0)
    rows_imported = models.PositiveIntegerField(default=0)
    rows_updated = models.PositiveIntegerField(default=0)
    rows_skipped = models.PositiveIntegerField(default=0)
    # Big imports rebuild their quarters' answer rollups once at the end instead of applying
    # each response on its own (decided when the import is confirmed).
    rebuilds_rollups = models.BooleanField(default=False)
    quarters = models.JSONField(default=list)
    message = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="import_jobs",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="importjob_active_idx")]
        verbose_name = _("import")
        verbose_name_plural = _("imports")

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.file_name}"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED, self.Status.CANCELLED)


class ImportFilePart(models.Model):
    """A piece of an uploaded file, kept in the database so that every worker can read it
    (web and workers share no disk); deleted when the job finishes."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="parts")
    number = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "number"], name="importfilepart_unique")
        ]

    def __str__(self) -> str:
        return f"{self.job_id}: part {self.number}"


class ImportRowError(models.Model):
    """One problem of one row: the validation report lists every one."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="row_errors")
    row = models.PositiveIntegerField(_("row"))
    column = models.CharField(_("column"), max_length=200, blank=True)
    value = models.CharField(_("value"), max_length=200, blank=True)
    message = models.CharField(_("problem"), max_length=500)

    class Meta:
        ordering = ["job", "row", "pk"]
        indexes = [models.Index(fields=["job", "row"], name="importrowerror_job_row_idx")]

    def __str__(self) -> str:
        return f"row {self.row}, {self.column}: {self.message}"


class ImportChunk(models.Model):
    """The rows one transaction of an import committed; its outbox event hands them on
    (follow-up cases, metrics) in bulk."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="chunks")
    first_row = models.PositiveIntegerField()
    last_row = models.PositiveIntegerField()
    # The id range of the rows the chunk created (responses or purchases).
    first_object_id = models.BigIntegerField(null=True, blank=True)
    last_object_id = models.BigIntegerField(null=True, blank=True)
    created_count = models.PositiveIntegerField(default=0)
    quarters = models.JSONField(default=list)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["job", "first_row"]
        constraints = [
            models.UniqueConstraint(fields=["job", "first_row"], name="importchunk_unique")
        ]

    def __str__(self) -> str:
        return f"{self.job_id}: rows {self.first_row}-{self.last_row}"
