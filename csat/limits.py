"""Oversized requests are refused with a clear message naming the limit, in one place for the
API (413 with the JSON error shape) and for pages (a 413 error page).

Django raises RequestDataTooBig, TooManyFieldsSent or TooManyFilesSent when it reads a body
over DATA_UPLOAD_MAX_MEMORY_SIZE, DATA_UPLOAD_MAX_NUMBER_FIELDS or
DATA_UPLOAD_MAX_NUMBER_FILES; `UploadSizeLimitHandler` adds UPLOAD_MAX_BYTES for multipart
bodies with files, which Django does not limit. Inside a DRF view the API exception handler
turns them into the JSON error; anywhere else Django hands them to `handler400` below.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from django.views import defaults

TOO_BIG = (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent)


class UploadTooBig(RequestDataTooBig):
    """A multipart body (files included) over UPLOAD_MAX_BYTES."""


def _bytes(limit: int) -> str:
    return _("%(size)s (%(bytes)s bytes)") % {"size": filesizeformat(limit), "bytes": limit}


def too_big_message(error: Exception) -> str:
    """What was too big, and the limit."""
    if isinstance(error, UploadTooBig):
        return _("The upload is too large: the limit is %(limit)s.") % {
            "limit": _bytes(settings.UPLOAD_MAX_BYTES)
        }
    if isinstance(error, TooManyFieldsSent):
        return _("The form has too many fields: the limit is %(limit)s.") % {
            "limit": settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        }
    if isinstance(error, TooManyFilesSent):
        return _("Too many files were sent: the limit is %(limit)s.") % {
            "limit": settings.DATA_UPLOAD_MAX_NUMBER_FILES
        }
    return _("The request body is too large: the limit is %(limit)s.") % {
        "limit": _bytes(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    }


def too_big_body(error: Exception) -> dict[str, Any]:
    """The API's JSON error shape for an oversized request."""
    message = too_big_message(error)
    return {"error": {"message": message, "fields": {"body": [message]}}}


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's bad-request handler, with a clear 413 for oversized requests."""
    if isinstance(exception, TOO_BIG):
        if request.path.startswith("/api/"):
            return JsonResponse(too_big_body(exception), status=413)
        return render(request, "413.html", {"message": too_big_message(exception)}, status=413)
    return defaults.bad_request(request, exception)  # type: ignore[arg-type]


class UploadSizeLimitHandler(FileUploadHandler):
    """Refuse a multipart body over UPLOAD_MAX_BYTES before reading any of it."""

    def handle_raw_input(
        self,
        input_data: Any,
        META: dict[str, Any],
        content_length: int,
        boundary: bytes,
        encoding: str | None = None,
    ) -> None:
        if content_length > settings.UPLOAD_MAX_BYTES:
            raise UploadTooBig(f"Upload of {content_length} bytes over UPLOAD_MAX_BYTES")

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None
