"""Sends and invitations: who is invited, the fatigue rule, consent and unsubscribe, the
due-time dispatcher and its tasks run twice, reminders, expiry, retries, response rate."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.utils import timezone

from accounts.models import User
from csat.errors import ApplicationError
from csat.models import OutboxEvent
from surveys.models import Invitation, Survey, SurveySend
from surveys.outreach import delivery, invitations, tasks
from surveys.outreach.customers import customer_unsubscribe
from tests.surveys.outreach_fixtures import answer_for, make_customer

Status = Invitation.Status
START = datetime(2025, 3, 3, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def _send(survey: Survey, **kwargs: Any) -> SurveySend:
    kwargs.setdefault("channel", "email")
    return invitations.send_create(survey=survey, **kwargs)


def _statuses(send: SurveySend) -> dict[str, tuple[str, str]]:
    return {
        invitation.customer.external_id: (invitation.status, invitation.suppression_reason)
        for invitation in send.invitations.select_related("customer")
    }


@pytest.fixture
def frozen() -> Any:
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def test_send_to_pasted_external_ids_schedules_one_invitation_each(
    nps_survey: Survey, staff: User, frozen: Any
) -> None:
    make_customer("C-1")
    make_customer("C-2")

    send = _send(nps_survey, external_ids=["C-1", " C-2 ", "C-1", ""], created_by=staff)

    assert _statuses(send) == {"C-1": ("scheduled", ""), "C-2": ("scheduled", "")}
    assert set(send.invitations.values_list("due_at", flat=True)) == {START}
    assert send.expires_after_days == 30


def test_send_with_unknown_external_ids_names_them_and_stores_nothing(nps_survey: Survey) -> None:
    make_customer("C-1")

    with pytest.raises(ApplicationError) as error:
        _send(nps_survey, external_ids=["C-1", "nobody", "ghost"])

    assert error.value.fields == {
        "external_ids": ["No customer has these external ids (2): nobody, ghost."]
    }
    assert not SurveySend.objects.exists()
    assert not Invitation.objects.exists()


def test_send_to_a_segment_invites_its_customers_only(nps_survey: Survey) -> None:
    make_customer("H-1", segment="high_value")
    make_customer("H-2", segment="high_value")
    make_customer("N-1", segment="normal")

    send = _send(nps_survey, segment="high_value", channel="sms")

    assert sorted(_statuses(send)) == ["H-1", "H-2"]
    assert send.audience == "segment"
    assert set(send.invitations.values_list("channel", flat=True)) == {"sms"}


def test_send_validation_names_each_bad_field(nps_survey: Survey) -> None:
    nps_survey.status = Survey.Status.CLOSED
    nps_survey.save()

    with pytest.raises(ApplicationError) as error:
        invitations.send_create(
            survey=nps_survey,
            channel="fax",
            segment="vip",
            reminder_after_days=0,
            expires_after_days=400,
        )

    assert error.value.fields == {
        "channel": ["Choose email or SMS."],
        "survey": ["This survey is closed: open it before sending it."],
        "segment": ['Unknown segment "vip": choose one of high_value, normal, churn_risk.'],
        "reminder_after_days": ["Choose 1 to 90 days, or no reminder."],
        "expires_after_days": ["Choose 1 to 365 days."],
    }


def test_unsubscribed_non_consenting_and_unreachable_customers_are_suppressed_with_reason(
    nps_survey: Survey,
) -> None:
    make_customer("ok")
    make_customer("gone", unsubscribed_at=timezone.now())
    make_customer("no-consent", consents_to_contact=False)
    make_customer("no-email", email="")

    send = _send(nps_survey, external_ids=["ok", "gone", "no-consent", "no-email"])

    assert _statuses(send) == {
        "ok": ("scheduled", ""),
        "gone": ("suppressed", "unsubscribed"),
        "no-consent": ("suppressed", "no_consent"),
        "no-email": ("suppressed", "no_address"),
    }


def test_due_invitation_is_sent_once_when_the_task_runs_twice(
    nps_survey: Survey, frozen: Any
) -> None:
    customer = make_customer("C-1")
    invitation = _send(nps_survey, external_ids=["C-1"], reminder_after_days=3).invitations.get()

    first = tasks.invitation_send(invitation.pk)
    second = tasks.invitation_send(invitation.pk)

    invitation.refresh_from_db()
    customer.refresh_from_db()
    assert (first, second) == ("delivered", "skipped")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["c-1@example.com"]
    assert invitation.status == Status.DELIVERED
    assert (invitation.sent_at, invitation.delivered_at) == (START, START)
    assert invitation.quarter == "2025Q1"
    assert invitation.expires_at == START + timedelta(days=30)
    assert invitation.remind_at == START + timedelta(days=3)
    assert customer.last_invited_at == START
    assert list(
        OutboxEvent.objects.filter(kind=OutboxEvent.Kind.INVITATION_CHANGED).values_list(
            "object_id", flat=True
        )
    ) == [invitation.pk]


def test_invitation_not_yet_due_is_not_sent(nps_survey: Survey, frozen: Any) -> None:
    make_customer("C-1")
    send = _send(nps_survey, external_ids=["C-1"], scheduled_for=START + timedelta(hours=2))

    outcome = tasks.invitation_send(send.invitations.get().pk)

    assert outcome == "skipped"
    assert mail.outbox == []


def test_dispatcher_run_twice_enqueues_each_due_invitation_once(
    nps_survey: Survey,
    frozen: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    make_customer("C-1")
    make_customer("C-2")
    make_customer("later")
    send = _send(nps_survey, external_ids=["C-1", "C-2"])
    _send(nps_survey, external_ids=["later"], scheduled_for=START + timedelta(days=1))
    enqueued: list[int] = []
    monkeypatch.setattr(tasks.invitation_send, "delay", enqueued.append)

    with django_capture_on_commit_callbacks(execute=True):
        first = tasks.invitations_dispatch_due()
    with django_capture_on_commit_callbacks(execute=True):
        second = tasks.invitations_dispatch_due()

    assert first == {"sends": 2, "reminders": 0}
    assert second == {"sends": 0, "reminders": 0}
    assert sorted(enqueued) == sorted(send.invitations.values_list("pk", flat=True))


def test_claim_whose_task_was_lost_is_claimed_again_after_the_lease(
    nps_survey: Survey, frozen: Any
) -> None:
    make_customer("C-1")
    invitation = _send(nps_survey, external_ids=["C-1"]).invitations.get()

    first = delivery.invitations_claim_due()
    within_lease = delivery.invitations_claim_due(START + timedelta(minutes=9))
    after_lease = delivery.invitations_claim_due(START + timedelta(minutes=11))

    assert (first.sends, within_lease.sends, after_lease.sends) == (
        [invitation.pk],
        [],
        [invitation.pk],
    )


def test_worker_that_died_mid_send_leaves_the_invitation_to_be_sent_again(
    nps_survey: Survey, frozen: Any
) -> None:
    make_customer("C-1")
    invitation = _send(nps_survey, external_ids=["C-1"]).invitations.get()
    Invitation.objects.filter(pk=invitation.pk).update(status=Status.SENDING, claimed_at=START)

    claimed = delivery.invitations_claim_due(START + timedelta(minutes=11))
    frozen.move_to(START + timedelta(minutes=11))
    outcome = tasks.invitation_send(invitation.pk)

    assert claimed.sends == [invitation.pk]
    assert outcome == "delivered"
    assert len(mail.outbox) == 1


def test_fatigue_rule_spans_channels_one_invitation_per_30_days(
    nps_survey: Survey, frozen: Any
) -> None:
    make_customer("C-1")
    by_email = _send(nps_survey, external_ids=["C-1"]).invitations.get()
    by_sms = _send(nps_survey, external_ids=["C-1"], channel="sms").invitations.get()

    outcomes = [tasks.invitation_send(by_email.pk), tasks.invitation_send(by_sms.pk)]

    by_sms.refresh_from_db()
    assert outcomes == ["delivered", "suppressed"]
    assert (by_sms.status, by_sms.suppression_reason) == (Status.SUPPRESSED, "fatigue")
    assert len(mail.outbox) == 1


def test_send_within_the_fatigue_window_is_suppressed_at_once_and_after_it_goes_out(
    nps_survey: Survey, frozen: Any
) -> None:
    make_customer("C-1")
    tasks.invitation_send(_send(nps_survey, external_ids=["C-1"]).invitations.get().pk)

    frozen.move_to(START + timedelta(days=29, hours=23))
    too_soon = _send(nps_survey, external_ids=["C-1"]).invitations.get()
    frozen.move_to(START + timedelta(days=30))
    in_time = _send(nps_survey, external_ids=["C-1"]).invitations.get()

    assert (too_soon.status, too_soon.suppression_reason) == (Status.SUPPRESSED, "fatigue")
    assert tasks.invitation_send(in_time.pk) == "delivered"
    assert len(mail.outbox) == 2


def test_fatigue_window_is_a_setting(nps_survey: Survey, frozen: Any, settings: Any) -> None:
    settings.INVITATION_FATIGUE_DAYS = 7
    make_customer("C-1")
    tasks.invitation_send(_send(nps_survey, external_ids=["C-1"]).invitations.get().pk)

    frozen.move_to(START + timedelta(days=7))
    again = _send(nps_survey, external_ids=["C-1"]).invitations.get()

    assert tasks.invitation_send(again.pk) == "delivered"


def test_customer_who_unsubscribes_before_the_send_is_not_invited(
    nps_survey: Survey, frozen: Any
) -> None:
    customer = make_customer("C-1")
    later = _send(nps_survey, external_ids=["C-1"], scheduled_for=START + timedelta(hours=1))
    invitation = later.invitations.get()

    customer_unsubscribe(customer=customer)
    frozen.move_to(START + timedelta(hours=1))
    outcome = tasks.invitation_send(invitation.pk)

    invitation.refresh_from_db()
    assert outcome == "skipped"
    assert (invitation.status, invitation.suppression_reason) == (Status.SUPPRESSED, "unsubscribed")
    assert mail.outbox == []


def test_consent_withdrawn_after_scheduling_suppresses_at_send_time(
    nps_survey: Survey, frozen: Any
) -> None:
    customer = make_customer("C-1")
    invitation = _send(nps_survey, external_ids=["C-1"]).invitations.get()
    customer.consents_to_contact = False
    customer.save()

    outcome = tasks.invitation_send(invitation.pk)

    invitation.refresh_from_db()
    assert outcome == "suppressed"
    assert invitation.suppression_reason == "no_consent"
    assert mail.outbox == []


def test_unsubscribe_page_confirms_then_records_and_stops_every_channel(
    nps_survey: Survey, frozen: Any
) -> None:
    customer = make_customer("C-1", language="zh-hans")
    invitation = _send(nps_survey, external_ids=["C-1"]).invitations.get()
    tasks.invitation_send(invitation.pk)
    page = Client()

    confirm = page.get(f"/u/{invitation.token}/")
    customer.refresh_from_db()
    assert confirm.status_code == 200
    assert customer.unsubscribed_at is None  # a link scanner's GET changes nothing

    done = page.post(f"/u/{invitation.token}/")
    customer.refresh_from_db()
    later_sms = _send(nps_survey, external_ids=["C-1"], channel="sms").invitations.get()

    assert done.status_code == 200
    assert "您已退订" in done.content.decode() or "unsubscribed" in done.content.decode()
    assert customer.unsubscribed_at == START
    assert (later_sms.status, later_sms.suppression_reason) == (Status.SUPPRESSED, "unsubscribed")


def test_one_click_unsubscribe_post_without_cookies_works_and_unknown_token_is_404(
    nps_survey: Survey,
) -> None:
    customer = make_customer("C-1")
    invitation = _send(nps_survey, external_ids=["C-1"]).invitations.get()
    client = Client(enforce_csrf_checks=True)

    one_click = client.post(
        f"/u/{invitation.token}/",
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    unknown = client.get("/u/not-a-token/")

    customer.refresh_from_db()
    assert one_click.status_code == 200
    assert customer.unsubscribed_at is not None
    assert unknown.status_code == 404


def test_reminder_goes_out_once_after_n_days_when_unanswered(
    nps_survey: Survey, frozen: Any
) -> None:
    make_customer("C-1")
    invitation = _send(nps_survey, external_ids=["C-1"], reminder_after_days=3).invitations.get()
    tasks.invitation_send(invitation.pk)

    frozen.move_to(START + timedelta(days=2, hours=23))
    early = delivery.invitations_claim_due()
    frozen.move_to(START + timedelta(days=3))
    due = delivery.invitations_claim_due()
    outcomes = [tasks.invitation_remind(invitation.pk), tasks.invitation_remind(invitation.pk)]

    invitation.refresh_from_db()
    assert (early.reminders, due.reminders) == ([], [invitation.pk])
    assert outcomes == ["reminded", "skipped"]
    assert invitation.reminded_at == START + timedelta(days=3)
    assert [message.subject for message in mail.outbox] == [
        "Your opinion, please: After-sales visit",
        "Reminder: After-sales visit",
    ]
    assert mail.outbox[0].body.split("/i/")[1][:20] == mail.outbox[1].body.split("/i/")[1][:20]


def test_answered_invitation_gets_no_reminder(nps_survey: Survey, frozen: Any) -> None:
    make_customer("C-1")
    invitation = _send(nps_survey, external_ids=["C-1"], reminder_after_days=2).invitations.get()
    tasks.invitation_send(invitation.pk)
    answer_for(invitation.pk, nps_survey.pk, 9)

    frozen.move_to(START + timedelta(days=2))
    outcome = tasks.invitation_remind(invitation.pk)

    assert outcome == "skipped"
    assert len(mail.outbox) == 1


def test_invitation_due_long_after_it_would_have_expired_is_suppressed(
    nps_survey: Survey, frozen: Any
) -> None:
    make_customer("C-1")
    invitation = _send(nps_survey, external_ids=["C-1"], expires_after_days=2).invitations.get()

    frozen.move_to(START + timedelta(days=2))
    outcome = tasks.invitation_send(invitation.pk)

    invitation.refresh_from_db()
    assert outcome == "suppressed"
    assert invitation.suppression_reason == "expired"


def test_personal_link_stops_working_after_expiry(nps_survey: Survey, frozen: Any) -> None:
    make_customer("C-1")
    invitation = _send(nps_survey, external_ids=["C-1"], expires_after_days=5).invitations.get()
    tasks.invitation_send(invitation.pk)

    frozen.move_to(START + timedelta(days=5))
    page = Client().get(f"/i/{invitation.token}/")

    assert page.status_code == 410


def test_mail_server_down_is_retried_with_backoff_then_failed(
    nps_survey: Survey, frozen: Any, settings: Any
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # nothing listens there
    settings.INVITATION_MAX_ATTEMPTS = 2
    customer = make_customer("C-1")
    invitation = _send(nps_survey, external_ids=["C-1"]).invitations.get()

    first = tasks.invitation_send(invitation.pk)
    invitation.refresh_from_db()
    retry_at = invitation.due_at
    frozen.move_to(retry_at)
    second = tasks.invitation_send(invitation.pk)

    invitation.refresh_from_db()
    customer.refresh_from_db()
    assert (first, second) == ("retry", "failed")
    assert retry_at == START + timedelta(seconds=60)
    assert invitation.status == Status.FAILED
    assert invitation.error.startswith("Could not reach the mail server")
    assert customer.last_invited_at is None  # nothing went out: the fatigue slot is free


def test_send_page_shows_delivery_status_and_response_rate(
    nps_survey: Survey, staff_client: Client, frozen: Any
) -> None:
    for external_id in ("C-1", "C-2", "C-3"):
        make_customer(external_id)
    make_customer("gone", unsubscribed_at=START)
    send = _send(nps_survey, external_ids=["C-1", "C-2", "C-3", "gone"])
    before = staff_client.get(f"/sends/{send.pk}/")
    for invitation in send.invitations.filter(status=Status.SCHEDULED):
        tasks.invitation_send(invitation.pk)
    first = send.invitations.get(customer__external_id="C-1")
    answer_for(first.pk, nps_survey.pk, 10)

    page = staff_client.get(f"/sends/{send.pk}/")

    html = page.content.decode()
    assert 'data-testid="response-rate">No data<' in before.content.decode()
    assert page.status_code == 200
    assert 'data-testid="response-rate">33.3%<' in html
    assert "1 of 3 delivered invitations answered" in html
    assert 'data-testid="count-delivered">3<' in html
    assert 'data-testid="count-suppressed">1<' in html
    assert "The customer unsubscribed" in html


def test_staff_sends_a_survey_from_the_send_page(
    nps_survey: Survey, staff_client: Client, staff: User
) -> None:
    make_customer("C-1")
    make_customer("C-2")

    form = staff_client.get(f"/surveys/{nps_survey.pk}/sends/new/")
    response = staff_client.post(
        f"/surveys/{nps_survey.pk}/sends/new/",
        {
            "channel": "sms",
            "external_ids": "C-1, C-2\nnobody",
            "reminder_after_days": "3",
            "expires_after_days": "14",
        },
    )
    missing = response.content.decode()
    ok = staff_client.post(
        f"/surveys/{nps_survey.pk}/sends/new/",
        {"channel": "sms", "external_ids": "C-1\nC-2", "expires_after_days": "14"},
    )

    send = SurveySend.objects.get()
    assert form.status_code == 200
    assert response.status_code == 400
    assert "No customer has these external ids (1): nobody." in missing
    assert ok.status_code == 302
    assert ok["Location"] == f"/sends/{send.pk}/"
    assert (send.channel, send.expires_after_days, send.reminder_after_days) == ("sms", 14, None)
    assert send.created_by == staff
    assert send.invitations.count() == 2


def test_outsider_without_the_role_cannot_send(nps_survey: Survey, db: None) -> None:
    outsider = User.objects.create_user(username="olly", password="x-y-z-123456")
    client = Client()
    client.force_login(outsider)

    response = client.post(f"/surveys/{nps_survey.pk}/sends/new/", {"channel": "email"})

    assert response.status_code == 403
    assert not SurveySend.objects.exists()


def test_unexpected_error_while_sending_counts_as_an_attempt(
    nps_survey: Survey, frozen: Any, settings: Any
) -> None:
    settings.INVITATION_MAX_ATTEMPTS = 1
    settings.EMAIL_BACKEND = "surveys.outreach.no_such_backend.EmailBackend"
    make_customer("C-1")
    invitation = _send(nps_survey, external_ids=["C-1"]).invitations.get()

    outcome = tasks.invitation_send(invitation.pk)

    invitation.refresh_from_db()
    assert outcome == "failed"
    assert invitation.status == Status.FAILED
    assert invitation.error.startswith("Unexpected error: ")


def test_the_send_page_labels_the_ids_box_by_whether_a_customer_list_is_shown(
    nps_survey: Survey, staff_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_customer("C-1")
    make_customer("C-2")

    with_picker = staff_client.get(f"/surveys/{nps_survey.pk}/sends/new/").content.decode()
    monkeypatch.setattr("surveys.outreach.views.CUSTOMER_PICKER_LIMIT", 1)
    without = staff_client.get(f"/surveys/{nps_survey.pk}/sends/new/").content.decode()

    assert '<select name="customers"' in with_picker
    assert "Or paste external ids</label>" in with_picker
    assert '<select name="customers"' not in without
    assert "Customers&#x27; external ids</label>" in without
    assert "Or paste external ids" not in without
