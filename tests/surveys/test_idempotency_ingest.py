"""The API's hot path: one statement stores the response, its answers and its outbox event
(PostgreSQL), exactly as the ORM would; a taken key stores nothing; the token lookup brings
the caller's permissions along."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from csat.models import OutboxEvent
from surveys.ingest import response_store
from surveys.models import Answer, Response, Survey
from tests.surveys.outreach_fixtures import api_client


def _new(survey: Survey, key: str = "") -> tuple[Response, list[Answer]]:
    nps, why = survey.questions.order_by("position")
    now = timezone.now()
    response = Response(
        survey=survey,
        channel="api",
        submission_key=key,
        submitted_at=now,
        quarter="2025Q1",
        ip_address="192.0.2.1",
    )
    answers = [
        Answer(response=response, question=nps, number=7),
        Answer(response=response, question=why, text='He said "fine" \\ {x}'),
    ]
    return response, answers


def test_one_statement_writes_the_rows_the_orm_would(
    nps_survey: Survey, postgres: None, django_capture_on_commit_callbacks: Any
) -> None:
    response, answers = _new(nps_survey)

    with django_capture_on_commit_callbacks() as callbacks:
        stored = response_store(response, answers)

    row = Response.objects.get()
    assert stored.pk == row.pk
    assert (row.channel, row.status, row.in_rollup, row.is_test, row.is_spam) == (
        "api",
        "complete",
        False,
        False,
        False,
    )
    assert row.created_at is not None
    assert row.ip_address == "192.0.2.1"
    assert list(row.answers.order_by("question__position").values_list("number", "text")) == [
        (7, ""),
        (None, 'He said "fine" \\ {x}'),
    ]
    event = OutboxEvent.objects.get()
    assert (event.kind, event.object_id, event.attempts) == ("response.submitted", row.pk, 0)
    assert len(callbacks) == 1


def test_a_taken_key_stores_nothing_and_leaves_the_callers_transaction_usable(
    nps_survey: Survey, postgres: None
) -> None:
    response_store(*_new(nps_survey, key="api:1:k"))

    with transaction.atomic():
        with pytest.raises(IntegrityError):
            response_store(*_new(nps_survey, key="api:1:k"))
        assert Response.objects.count() == 1  # the transaction still works

    assert Answer.objects.count() == 2
    assert OutboxEvent.objects.count() == 1


def test_token_lookup_brings_the_permissions_and_still_refuses_bad_tokens(
    staff: User, nps_survey: Survey, postgres: None
) -> None:
    client = api_client(staff)
    nps = str(nps_survey.questions.order_by("position").first().pk)  # type: ignore[union-attr]
    url = f"/api/v1/surveys/{nps_survey.public_id}/responses/"
    client.post(url, {"answers": {nps: 9}}, format="json")  # warm caches (content types)

    with CaptureQueriesContext(connection) as queries:
        ok = client.post(url, {"answers": {nps: 9}}, format="json")
    # only the insert: the token seen by the first call and the survey's cached definition
    # are both confirmed by it (the test's own transaction adds a savepoint around the
    # insert, which autocommit in production does not need; the statement was prepared on
    # the first call, so this one only EXECUTEs it)
    statements = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Token nope")
    refused = bad.post(url, {"answers": {nps: 9}}, format="json")
    staff.is_active = False
    staff.save()
    inactive = client.post(url, {"answers": {nps: 9}}, format="json")

    assert ok.status_code == 201
    assert len(statements) == 1, statements
    assert statements[0].startswith("EXECUTE csat_ingest_1_1g_"), statements
    assert refused.status_code == 401
    assert refused.json()["error"]["message"] == "Invalid token."
    assert inactive.status_code == 401


def test_token_lookup_counts_direct_permissions_and_superusers(
    nps_survey: Survey, postgres: None
) -> None:
    from django.contrib.auth.models import Permission

    direct = User.objects.create_user(username="direct", password="pw-123456-xyz")
    direct.user_permissions.add(Permission.objects.get(codename="add_response"))
    nobody = User.objects.create_user(username="nobody", password="pw-123456-xyz")
    root = User.objects.create_superuser(username="root", password="pw-123456-xyz")
    nps = str(nps_survey.questions.order_by("position").first().pk)  # type: ignore[union-attr]
    url = f"/api/v1/surveys/{nps_survey.public_id}/responses/"

    statuses = [
        api_client(user).post(url, {"answers": {nps: 8}}, format="json").status_code
        for user in (direct, nobody, root)
    ]

    assert statuses == [201, 403, 201]
