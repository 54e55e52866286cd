"""The outbox: work a response triggers is stored with it and never lost after commit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from csat import outbox
from csat.models import OutboxEvent
from surveys.models import Response, Survey
from surveys.services import response_submit


def _answer(survey: Survey) -> dict[str, int]:
    return {str(survey.questions.get(kind="nps").pk): 9}


def test_event_is_enqueued_only_after_the_response_commits(
    nps_survey: Survey, django_capture_on_commit_callbacks: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[int] = []
    monkeypatch.setattr(outbox, "outbox_publish", sent.append)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:  # type: ignore[operator]
        response, _created = response_submit(survey=nps_survey, raw_answers=_answer(nps_survey))
        assert sent == []

    event = OutboxEvent.objects.get(object_id=response.pk)
    for callback in callbacks:
        callback()
    assert sent == [event.pk]


def test_a_failed_response_leaves_no_event(nps_survey: Survey) -> None:
    with pytest.raises(Exception, match="Some answers need attention"):
        response_submit(survey=nps_survey, raw_answers={})

    assert not OutboxEvent.objects.exists()
    assert not Response.objects.exists()


def test_relay_resends_events_that_no_worker_finished(
    nps_survey: Survey, monkeypatch: pytest.MonkeyPatch
) -> None:
    response_submit(survey=nps_survey, raw_answers=_answer(nps_survey))
    fresh = OutboxEvent.objects.get()
    stale = OutboxEvent.objects.create(kind=fresh.kind, object_id=fresh.object_id)
    OutboxEvent.objects.filter(pk=stale.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    done = OutboxEvent.objects.create(kind=fresh.kind, object_id=fresh.object_id)
    OutboxEvent.objects.filter(pk=done.pk).update(
        created_at=timezone.now() - timedelta(minutes=5), processed_at=timezone.now()
    )
    sent: list[int] = []
    monkeypatch.setattr(outbox, "outbox_dispatch", sent.append)

    count = outbox.outbox_relay()

    assert (count, sent) == (1, [stale.pk])


def test_broker_outage_at_commit_leaves_the_event_for_the_relay(
    nps_survey: Survey, monkeypatch: pytest.MonkeyPatch
) -> None:
    from csat import tasks

    def broker_down(*args: object) -> None:
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(tasks.outbox_process, "delay", broker_down)
    response_submit(survey=nps_survey, raw_answers=_answer(nps_survey))
    event = OutboxEvent.objects.get()

    outbox.outbox_dispatch(event.pk)

    event.refresh_from_db()
    assert event.dispatched_at is None
    assert event.processed_at is None
    assert Response.objects.count() == 1
