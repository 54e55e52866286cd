"""Staff pages of imports: upload, column mapping, the checked rows, confirmation, progress."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import User
from csat.errors import ApplicationError
from surveys.forms import SurveyChoiceField
from surveys.imports import files, selectors, services
from surveys.imports.models import ImportJob
from surveys.models import Survey

ERRORS_PER_PAGE = 100
# Room for the multipart envelope around the file in a request's Content-Length.
MULTIPART_OVERHEAD = 64 * 1024
KIND_PERMISSIONS = {
    ImportJob.Kind.RESPONSES: ["surveys.add_response"],
    ImportJob.Kind.CUSTOMERS: ["surveys.add_customer", "surveys.change_customer"],
    ImportJob.Kind.PURCHASES: ["surveys.add_purchase"],
}
# Spreadsheet programs run a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class UploadForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("The file holds"), choices=ImportJob.Kind.choices)
    survey = SurveyChoiceField(
        label=gettext_lazy("Survey"),
        queryset=Survey.objects.order_by("title"),
        required=False,
        help_text=gettext_lazy("For responses: the survey they answer."),
    )
    file = forms.FileField(
        label=gettext_lazy("CSV or XLSX file"),
        help_text=gettext_lazy("UTF-8 or GBK text, or an Excel workbook (its first sheet)."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,.tsv,.xlsx"}),
    )


def _allowed_kinds(user: User) -> list[str]:
    return [kind for kind, perms in KIND_PERMISSIONS.items() if user.has_perms(perms)]


def _check_kind(user: User, kind: str) -> None:
    if kind in KIND_PERMISSIONS and not user.has_perms(KIND_PERMISSIONS[kind]):
        raise PermissionDenied


def _list_page(
    request: HttpRequest,
    form: UploadForm,
    status: int = 200,
    message: str = "",
    query_errors: dict[str, list[str]] | None = None,
) -> HttpResponse:
    kinds = _allowed_kinds(request.user)  # type: ignore[arg-type]
    form.fields["kind"].choices = [
        (value, label) for value, label in ImportJob.Kind.choices if value in kinds
    ]
    return render(
        request,
        "surveys/import_list.html",
        {
            "form": form,
            "jobs": selectors.import_job_list()[:50],
            "max_mb": files.max_file_bytes() // (1024 * 1024),
            "message": message,
            "query_errors": query_errors or {},
        },
        status=status,
    )


@permission_required("surveys.view_importjob", raise_exception=True)
@require_GET
def import_list(request: HttpRequest) -> HttpResponse:
    initial = {}
    survey = request.GET.get("survey", "").strip()
    if survey:
        # A link from a survey's page preselects it; an unknown one is refused, not dropped.
        if not survey.isdigit() or not Survey.objects.filter(pk=int(survey)).exists():
            problem = _("survey: no survey has the id “%(value)s”.") % {"value": survey[:40]}
            return _list_page(request, UploadForm(), status=400, query_errors={"survey": [problem]})
        initial = {"kind": ImportJob.Kind.RESPONSES, "survey": survey}
    return _list_page(request, UploadForm(initial=initial))


# The size check must run before the body is read, and CSRF's check reads it: the view is
# exempted from the middleware and protects its inner part itself (Django's documented way).
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def import_upload(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        # The address bar shows /imports/upload/ after a refused upload: pressing Enter there,
        # a bookmark or a typed address leads to the form on the import list (which checks
        # who may see it) rather than to a "method not allowed" page.
        url = reverse("imports:list")
        query = request.GET.urlencode()
        return redirect(f"{url}?{query}" if query else url)
    return _import_upload_post(request)


@permission_required("surveys.add_importjob", raise_exception=True)
def _import_upload_post(request: HttpRequest) -> HttpResponse:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > files.max_file_bytes() + MULTIPART_OVERHEAD:
        # The body is not read: the upload is refused from its announced size.
        return _list_page(request, UploadForm(), status=413, message=files.too_large_message())
    return _import_upload(request)


@csrf_protect
def _import_upload(request: HttpRequest) -> HttpResponse:
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _list_page(request, form, status=400)
    kind = form.cleaned_data["kind"]
    _check_kind(request.user, kind)  # type: ignore[arg-type]
    try:
        job = services.import_job_create(
            kind=kind,
            survey=form.cleaned_data["survey"],
            upload=form.cleaned_data["file"],
            user=request.user,  # type: ignore[arg-type]
        )
    except ApplicationError as error:
        for field, problems in error.fields.items():
            for problem in problems:
                form.add_error(field if field in form.fields else None, problem)
        return _list_page(request, form, status=error.status_code)
    messages.success(request, _("File read. Map its columns to what they hold."))
    return redirect("imports:detail", pk=job.pk)


@permission_required("surveys.view_importjob", raise_exception=True)
@require_GET
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(selectors.import_job_list(), pk=pk)
    return _detail_page(request, job)


def _detail_page(
    request: HttpRequest,
    job: ImportJob,
    errors: dict[str, list[str]] | None = None,
    message: str = "",
    status: int = 200,
) -> HttpResponse:
    context: dict[str, object] = {
        "job": job,
        "errors": errors or {},
        "message": message,
        "progress_url": reverse("imports:progress", args=[job.pk]),
        "encoding_label": files.ENCODING_LABELS.get(job.encoding, job.encoding),
        "delimiter_label": {
            ",": _("commas"),
            ";": _("semicolons"),
            "\t": _("tabs"),
            "|": _("vertical bars"),
        }.get(job.delimiter, job.delimiter),
        "reporting_zone": settings.REPORTING_TIME_ZONE,
        "can_change": request.user.has_perm("surveys.add_importjob")
        and request.user.has_perms(KIND_PERMISSIONS[ImportJob.Kind(job.kind)]),
    }
    if job.status in (ImportJob.Status.MAPPING, ImportJob.Status.VALIDATED):
        columns, targets = selectors.import_mapping_columns(job)
        if errors:
            # Show what was submitted, so that a mistake can be corrected in place.
            for column in columns:
                column.target = request.POST.get(f"column_{column.index}", "")
                column.problems = errors.get(f"column_{column.index}", [])
        context.update(columns=columns, targets=targets)
    if job.status in (ImportJob.Status.VALIDATED, ImportJob.Status.DONE):
        labels, preview = selectors.import_job_preview(job)
        context.update(preview_labels=labels, preview=preview)
    if job.status in (ImportJob.Status.VALIDATED, ImportJob.Status.DONE, ImportJob.Status.FAILED):
        paginator = Paginator(selectors.import_row_errors(job), ERRORS_PER_PAGE)
        context["row_errors"] = paginator.get_page(request.GET.get("page"))
    return render(request, "surveys/import_detail.html", context, status=status)


def _job_for_change(request: HttpRequest, pk: int) -> ImportJob:
    job = get_object_or_404(ImportJob, pk=pk)
    _check_kind(request.user, job.kind)  # type: ignore[arg-type]
    return job


@permission_required("surveys.add_importjob", raise_exception=True)
@require_POST
def import_mapping(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job_for_change(request, pk)
    columns = {
        index: request.POST.get(f"column_{index}", "").strip() for index in range(len(job.headers))
    }
    try:
        services.import_job_set_mapping(job=job, columns=columns)
    except ApplicationError as error:
        return _detail_page(request, job, error.fields, error.message, status=error.status_code)
    messages.success(request, _("Mapping saved: every row is being checked."))
    return redirect("imports:detail", pk=job.pk)


@permission_required("surveys.add_importjob", raise_exception=True)
@require_POST
def import_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job_for_change(request, pk)
    try:
        services.import_job_confirm(job=job)
    except ApplicationError as error:
        return _detail_page(request, job, error.fields, error.message, status=error.status_code)
    messages.success(request, _("Import started."))
    return redirect("imports:detail", pk=job.pk)


@permission_required("surveys.add_importjob", raise_exception=True)
@require_POST
def import_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job_for_change(request, pk)
    try:
        services.import_job_cancel(job=job)
    except ApplicationError as error:
        return _detail_page(request, job, error.fields, error.message, status=error.status_code)
    messages.success(request, _("Import cancelled: the file was discarded."))
    return redirect("imports:list")


@permission_required("surveys.view_importjob", raise_exception=True)
@require_GET
def import_progress(request: HttpRequest, pk: int) -> JsonResponse:
    """The job's progress, polled by the job page's script."""
    job = get_object_or_404(ImportJob, pk=pk)
    return JsonResponse(
        {
            "status": job.status,
            "status_label": job.get_status_display(),
            "is_active": job.is_active,
            "progress_percent": job.progress_percent,
            "rows_total": job.rows_total,
            "rows_done": job.rows_done,
            "rows_valid": job.rows_valid,
            "rows_invalid": job.rows_invalid,
            "rows_imported": job.rows_imported,
            "rows_updated": job.rows_updated,
            "rows_skipped": job.rows_skipped,
        }
    )


def _neutralised(value: str) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula."""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


class _Echo:
    def write(self, value: str) -> str:
        return value


@permission_required("surveys.view_importjob", raise_exception=True)
@require_GET
def import_errors_csv(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    """Every problem of every row as a CSV file (UTF-8 with a BOM, for spreadsheets)."""
    job = get_object_or_404(ImportJob, pk=pk)
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield "\ufeff" + writer.writerow([_("Row"), _("Column"), _("Value"), _("Problem")])
        for error in selectors.import_row_errors(job).iterator(chunk_size=2000):
            yield writer.writerow(
                [
                    error.row,
                    _neutralised(error.column),
                    _neutralised(error.value),
                    _neutralised(error.message),
                ]
            )

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-problems.csv"'
    return response
