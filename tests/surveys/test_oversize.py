"""Oversized bodies, uploads and forms with too many fields are refused with a clear message
naming the limit: 413 with the JSON error shape in the API, a 413 page for forms."""

from __future__ import annotations

import json
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from accounts.models import User
from surveys.models import Response, Survey
from tests.surveys.outreach_fixtures import api_client


def test_api_body_over_the_limit_is_413_naming_the_limit(
    staff: User, nps_survey: Survey, settings: Any
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    nps = str(nps_survey.questions.order_by("position").first().pk)  # type: ignore[union-attr]
    body = json.dumps({"answers": {nps: 9, "x": "a" * 2000}})

    response = api_client(staff).generic(
        "POST",
        f"/api/v1/surveys/{nps_survey.public_id}/responses/",
        body,
        content_type="application/json",
    )

    message = "The request body is too large: the limit is 1000\xa0bytes (1000 bytes)."
    assert response.status_code == 413
    assert response.json() == {"error": {"message": message, "fields": {"body": [message]}}}
    assert not Response.objects.exists()


def test_oversized_form_gets_a_clear_413_page(nps_survey: Survey, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    page = Client().post(f"/s/{nps_survey.public_id}/", {"q1": "x" * 5000})

    assert page.status_code == 413
    assert "The request body is too large: the limit is 1000\xa0bytes" in page.content.decode()
    assert not Response.objects.exists()


def test_form_with_too_many_fields_gets_a_clear_413_page(
    staff_client: Client, settings: Any
) -> None:
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10

    page = staff_client.post("/customers/new/", {f"f{i}": "x" for i in range(50)})

    assert page.status_code == 413
    assert "The form has too many fields: the limit is 10." in page.content.decode()


def test_upload_over_the_limit_is_refused_before_it_is_read(
    staff: User, staff_client: Client, settings: Any
) -> None:
    settings.UPLOAD_MAX_BYTES = 2048
    upload = SimpleUploadedFile("big.csv", b"a,b\n" * 2000, content_type="text/csv")

    api = api_client(staff).post("/api/v1/customers/", {"external_id": "C-1", "file": upload})
    upload.seek(0)
    page = staff_client.post("/customers/new/", {"external_id": "C-1", "file": upload})

    message = "The upload is too large: the limit is 2.0\xa0KB (2048 bytes)."
    assert api.status_code == 413
    assert api.json()["error"]["message"] == message
    assert page.status_code == 413
    assert message in page.content.decode()
