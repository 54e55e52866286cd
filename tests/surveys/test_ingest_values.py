"""surveys/ingest.py builds the insert's parameters without the ORM's per-field preparation
where a value is its own parameter, and the answers' without Answer instances: every
parameter must be exactly (value and type) what the ORM would send, for every field of the
response, its answers and its outbox event."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import pytest
from django.db import connection, models
from django.utils.translation import gettext_lazy

from csat.models import OutboxEvent
from surveys import ingest
from surveys.models import Answer, Channel, Response, Survey

NOW = datetime(2026, 3, 31, 23, 59, 58, 123456, tzinfo=UTC)


def _orm(obj: models.Model, skip: str = "") -> list[Any]:
    """What Model.save() sends: each field's get_db_prep_save(pre_save(add=True))."""
    return [
        field.get_db_prep_save(field.pre_save(obj, add=True), connection=connection)
        for field in obj._meta.concrete_fields
        if not field.primary_key and field.attname != skip
    ]


def _comparable(values: list[Any]) -> list[tuple[str, str]]:
    # type and repr: 1 == True and an enum == its value, but the database is sent each as is;
    # psycopg2's Inet has no equality, its repr names the address
    return [(type(value).__name__, repr(value)) for value in values]


def _assert_same(obj: models.Model, skip: str = "") -> None:
    # each on a copy: pre_save of an auto_now_add field sets the attribute it reads
    with mock.patch("django.utils.timezone.now", return_value=NOW):
        expected = _orm(copy.copy(obj), skip)
        got = ingest._values(copy.copy(obj), skip)
    assert _comparable(got) == _comparable(expected)


def _responses(survey: Survey) -> list[Response]:
    return [
        # the API's call: enums, an aware datetime, no client details, no customer
        Response(
            survey=survey,
            channel=Channel.API,
            status=Response.Status.COMPLETE,
            customer=None,
            agent=None,
            submission_key="api:1:key",
            submission_fingerprint="f" * 64,
            submitted_at=NOW,
            quarter="2026Q1",
        ),
        # every field given, some of them as values the field converts
        Response(
            survey_id=str(survey.pk),  # a str for a foreign key: the field makes it an int
            channel="web",
            status="partial",
            customer_id=None,
            agent_id=None,
            team_id=None,
            touchpoint_id=None,
            submission_key=gettext_lazy("lazy key"),  # a lazy string: converted to str
            submission_fingerprint="",
            invitation_id=None,
            import_key=12,  # an int for a CharField: the field makes it "12"
            segment="vip",
            quarter="2026Q2",
            in_rollup=True,
            next_purchase_at=datetime(2026, 6, 1, 8, 0, tzinfo=UTC),
            language="zh-hans",
            source_label="kiosk",
            is_test=1,  # an int for a BooleanField: the field makes it True
            is_spam=False,
            ip_address="192.0.2.1",
            user_agent="Mozilla/5.0",
            submitted_at=None,
        ),
        Response(survey=survey, ip_address="2001:db8::1", is_spam=True, submitted_at=NOW),
    ]


def test_fast_values_are_the_orms_parameters_for_every_field_of_a_response(
    nps_survey: Survey, db: None
) -> None:
    for response in _responses(nps_survey):
        _assert_same(response)


def test_fast_values_are_the_orms_parameters_for_answers_and_events(
    nps_survey: Survey, db: None
) -> None:
    nps, why = nps_survey.questions.order_by("position")
    response = _responses(nps_survey)[0]
    answers = [
        Answer(response=response, question=nps, number=9),
        Answer(response=response, question=why, text='He said "fine" \\ {x}'),
        Answer(response=response, question_id=nps.pk, number=True),  # bool: int(True) is 1
        Answer(response=response, question_id=str(nps.pk), number="7"),  # strs made ints
        Answer(response=response, question=nps, choice_id=3, grid_row_id=None, number=None),
    ]
    for answer in answers:
        _assert_same(answer, skip="response_id")
        _assert_same(answer)
    events = [
        OutboxEvent(kind=OutboxEvent.Kind.RESPONSE_SUBMITTED, object_id=0),
        OutboxEvent(
            kind="response.submitted",
            object_id=2**40,
            dispatched_at=NOW,
            processed_at=None,
            attempts=3,
            last_error="boom",
        ),
    ]
    for event in events:
        _assert_same(event, skip="object_id")
        _assert_same(event)


def test_answer_rows_without_instances_are_the_parameters_of_the_answer_they_describe(
    nps_survey: Survey, db: None
) -> None:
    nps, why = nps_survey.questions.order_by("position")
    rows: list[dict[str, Any]] = [
        {"question_id": nps.pk, "number": 9, "text": ""},
        {"question_id": why.pk, "number": None, "text": "Quick and friendly service."},
        {"question_id": nps.pk, "choice_id": 5},  # the rest defaults, as Answer(**row) does
        {"question_id": nps.pk, "grid_row_id": 2, "number": 4},
        {"question_id": str(nps.pk), "number": True},  # converted as the field would
    ]

    for row in rows:
        assert _comparable(ingest.row_values(Answer, row, skip="response_id")) == _comparable(
            ingest._values(Answer(**row), skip="response_id")
        )


def test_answer_rows_refuse_an_unknown_column_and_models_that_need_an_instance(
    db: None,
) -> None:
    with pytest.raises(TypeError, match="has no field"):
        ingest.row_values(Answer, {"question_id": 1, "numbr": 3}, skip="response_id")
    with pytest.raises(TypeError, match="need an instance"):  # created_at is auto_now_add
        ingest.row_values(OutboxEvent, {"kind": "response.submitted"}, skip="object_id")


def test_only_exact_field_classes_take_values_as_they_are() -> None:
    class Upper(models.CharField):  # type: ignore[type-arg]
        def get_prep_value(self, value: Any) -> Any:
            return str(value).upper()

    upper = Upper(max_length=10)
    auto = models.DateTimeField(auto_now_add=True)

    assert ingest._plain_type(upper) is None
    assert ingest._plain_type(models.CharField(max_length=10)) is str
    assert ingest._plain_type(models.SmallIntegerField()) is int
    assert ingest._plain_type(models.BooleanField()) is bool
    assert ingest._plain_type(models.JSONField()) is None
    assert ingest._plain_type(models.DateTimeField(null=True)) is type(None)
    assert ingest._plain_type(auto) is None
    assert ingest._plain_type(Answer._meta.get_field("question")) is int
