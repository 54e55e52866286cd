"""What a newcomer sees after `make run` loads the demo data: every channel answered, template
surveys in two languages, sends with a response rate, a finished import with its bad rows,
a working API token, and a second load that changes nothing."""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import Q
from django.test import Client, override_settings
from django.utils import timezone

from accounts.models import User
from csat.management.demo.backends import DemoEmailBackend, DemoSmsBackend
from csat.management.demo.outreach import API_USERNAME, BOUNCING_EMAIL
from csat.models import OutboxEvent
from feedback.models import Case, ImprovementAction
from surveys.imports.models import ImportJob, ImportRowError
from surveys.models import (
    Channel,
    Customer,
    Invitation,
    Question,
    Response,
    Survey,
    SurveySend,
    TouchpointRule,
)
from surveys.templates_library import TEMPLATES


@pytest.fixture(scope="module")
def demo_output(django_db_setup: None, django_db_blocker: Any) -> Iterator[str]:
    """The demo loaded once for the module, in a transaction rolled back at its end; each
    test runs inside it in a savepoint of its own."""
    # The tests sign in with force_login: the demo's three passwords need no slow hasher.
    fast_hasher = override_settings(
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]
    )
    with django_db_blocker.unblock(), fast_hasher, transaction.atomic():
        out = io.StringIO()
        call_command("demo_data", stdout=out)
        # Check the demo's deferred foreign keys once, here, instead of at every test's end.
        connection.check_constraints()
        yield out.getvalue()
        transaction.set_rollback(True)


@pytest.fixture
def demo(demo_output: str, db: None) -> str:
    return demo_output


def _client(username: str) -> Client:
    client = Client()
    client.force_login(User.objects.get(username=username))
    return client


def _text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _testid(page: str, testid: str) -> str:
    found = re.search(rf'data-testid="{testid}"[^>]*>(.*?)</', page, re.S)
    assert found is not None, testid
    return _text(found.group(1))


def test_every_channel_has_counted_responses(demo: str) -> None:
    counted = Response.objects.filter(Response.counted_q())
    for channel in Channel.values:
        assert counted.filter(channel=channel).exists(), channel
    # and the newer channels carry what makes them worth seeing
    qr = counted.filter(channel=Channel.QR, source_label__endswith="store")
    assert qr.count() == 21
    assert set(qr.values_list("touchpoint__code", flat=True)) == {"product-delivery"}
    assert set(qr.values_list("source_label", flat=True)) == {
        "Shanghai · Nanjing Road store",
        "Beijing · Sanlitun store",
        "Shenzhen · Futian store",
    }
    help_centre = Survey.objects.get(title="Help centre: how easy was it?")
    assert help_centre.embed_origins == ["https://www.example.com", "https://help.example.com"]
    assert counted.filter(channel=Channel.EMBED, survey=help_centre).count() == 14
    phone = counted.filter(channel=Channel.PHONE, survey__title="After-sales call-back")
    assert phone.count() == 12
    assert not phone.filter(agent__isnull=True).exists()
    assert not phone.filter(team__isnull=True).exists()


def test_one_open_survey_per_template_in_english_and_chinese(demo: str) -> None:
    history = Q(title__endswith=": how likely are you to recommend us?") | Q(
        title="After-sales service quality"
    )
    made = Survey.objects.exclude(history)
    assert made.count() == len(TEMPLATES)
    for survey in made:
        assert survey.status == Survey.Status.OPEN
        other = "en" if survey.default_language == "zh-hans" else "zh-hans"
        assert survey.translations[other]["title"], survey
        assert survey.questions.exclude(translations={}).count() == survey.questions.count()
        assert survey.responses.filter(status=Response.Status.COMPLETE).exists(), survey
    assert set(made.values_list("default_language", flat=True)) == {"en", "zh-hans"}
    # the relationship survey: brand colour, logo, and "What could we do better?" for 0-6
    branded = made.get(brand_color="#0b5cab")
    follow_up = branded.questions.get(show_if_question__isnull=False)
    assert (follow_up.show_if_min, follow_up.show_if_max) == (None, 6)
    assert follow_up.show_if_question is not None
    assert follow_up.show_if_question.kind == Question.Kind.NPS
    logo = Client().get(f"/s/{branded.public_id}/logo")
    assert logo.status_code == 200
    assert logo["Content-Type"] == "image/png"
    assert made.filter(retention_days=365).count() == 1


def test_every_demo_survey_reads_in_chinese_for_a_chinese_manager_or_customer(demo: str) -> None:
    english = Survey.objects.filter(default_language="en")
    assert english.count() >= 4
    for survey in english:
        assert survey.translations.get("zh-hans", {}).get("title"), survey
        untranslated = [
            question.text
            for question in survey.questions.all()
            if not question.translations.get("zh-hans", {}).get("text")
        ]
        assert untranslated == [], survey
    manager = _client("manager")
    manager.cookies["django_language"] = "zh-hans"
    page = manager.get("/dashboard/").content.decode()
    assert "售后支持：您有多大可能向他人推荐我们？" in page  # noqa: RUF001
    assert "how likely are you to recommend us?" not in page


def test_demo_actions_long_past_their_deadline_are_done_not_all_overdue(demo: str) -> None:
    today = timezone.localdate()
    actions = list(ImprovementAction.objects.all())
    assert actions
    for action in actions:
        if action.deadline < today - timedelta(days=30):
            assert action.status == ImprovementAction.Status.DONE, action
        elif action.deadline < today:
            assert action.status == ImprovementAction.Status.IN_PROGRESS, action
    page = _client("manager").get("/actions/").content.decode()
    overdue = page.count('<span class="badge overdue">')
    assert overdue < len(actions)


def test_email_send_page_shows_its_response_rate_and_every_outcome(demo: str) -> None:
    send = SurveySend.objects.get(channel="email")
    invitations = send.invitations.all()
    delivered = invitations.filter(delivered_at__isnull=False)
    answered = delivered.filter(
        responses__status=Response.Status.COMPLETE, responses__is_test=False
    ).count()
    assert (delivered.count(), answered) == (26, 15)
    # when staff open the send's page
    page = _client("staff").get(f"/sends/{send.pk}/").content.decode()
    # then the response rate is a number: answered / delivered
    assert _testid(page, "response-rate") == f"{100 * answered / delivered.count():.1f}%"
    assert _testid(page, "response-rate-detail").startswith(
        f"{answered} of {delivered.count()} delivered invitations answered"
    )
    assert _testid(page, "count-failed") == "1"
    assert _testid(page, "count-suppressed") == "3"
    assert (
        "The mail server refused the recipient: 550 5.1.1 "
        f"&lt;{BOUNCING_EMAIL}&gt;: Recipient address rejected" in page
    )
    reasons = set(invitations.values_list("suppression_reason", flat=True)) - {""}
    assert reasons == {"unsubscribed", "no_consent", "fatigue"}
    # one customer saved answers to finish later: stored, not counted
    partial = Response.objects.get(status=Response.Status.PARTIAL)
    assert partial.invitation is not None
    assert partial.invitation.send_id == send.pk
    assert partial.answers.count() == 1


def test_sms_send_reminded_the_customers_who_had_not_answered(demo: str) -> None:
    send = SurveySend.objects.get(channel="sms")
    assert send.reminder_after_days == 3
    reminded = send.invitations.filter(reminded_at__isnull=False)
    assert reminded.exists()
    for invitation in reminded:
        assert invitation.sent_at is not None
        assert invitation.reminded_at - invitation.sent_at == timedelta(days=3)
    page = _client("staff").get(f"/sends/{send.pk}/").content.decode()
    assert _testid(page, "response-rate").endswith("%")
    # the demo mailed and texted nobody outside: its backends kept every message
    assert (
        len(DemoSmsBackend.sent)
        == Invitation.objects.filter(channel="sms").exclude(provider_message_id="").count()
        + Invitation.objects.filter(channel="sms", reminded_at__isnull=False).count()
    )
    assert len(DemoEmailBackend.sent) == 26


def test_after_sales_rule_invites_by_sms_two_hours_after_the_ticket(demo: str) -> None:
    rule = TouchpointRule.objects.get(touchpoint__code="after-sales-support")
    assert (rule.channel, rule.delay.total_seconds(), rule.reminder_after_days) == ("sms", 7200, 3)
    invitations = Invitation.objects.filter(interaction__external_id__startswith="CRM-TICKET-")
    assert invitations.count() == 12
    for invitation in invitations.exclude(sent_at=None).select_related("interaction"):
        assert invitation.interaction is not None
        assert (invitation.sent_at - invitation.interaction.occurred_at).total_seconds() == 7200
    # the last ticket closed half an hour ago: its invitation waits for beat
    assert invitations.filter(status=Invitation.Status.SCHEDULED).count() == 1


def test_customers_have_addresses_and_languages(demo: str) -> None:
    customers = Customer.objects.all()
    assert not customers.filter(email="").exclude(external_id__startswith="C9").exists()
    assert not customers.filter(phone="").exclude(external_id="C90002").exists()
    assert set(customers.values_list("language", flat=True)) == {"en", "zh-hans"}
    assert customers.filter(unsubscribed_at__isnull=False).count() == 1
    assert customers.filter(consents_to_contact=False).count() == 2  # one from the import


def test_responses_import_is_done_and_reports_its_three_bad_rows(demo: str) -> None:
    job = ImportJob.objects.get(kind=ImportJob.Kind.RESPONSES)
    assert job.survey is not None
    assert job.survey.title == "After-sales support: how likely are you to recommend us?"
    assert (job.status, job.rows_total, job.rows_imported, job.rows_invalid) == ("done", 8, 5, 3)
    assert list(ImportRowError.objects.filter(job=job).values_list("row", "column")) == [
        (6, "customer"),
        (7, "score"),
        (8, "response_id"),
    ]
    imported = Response.objects.filter(channel=Channel.IMPORT, import_key__startswith="PANEL-")
    assert imported.count() == 5
    formula = imported.get(import_key="PANEL-0008").answers.get(question__kind="text")
    assert formula.text.startswith("=HYPERLINK")
    # the detractor's follow-up case was opened by the import's hand-off
    assert Case.objects.filter(response__import_key="PANEL-0002").exists()
    # and the job's page lists the problems
    page = _client("staff").get(f"/imports/{job.pk}/").content.decode()
    assert _testid(page, "import-status") == "Done"
    assert "3 problems" in page
    assert "No customer has the external id C99999." in page
    # the customers and purchases samples were imported too
    others = ImportJob.objects.exclude(pk=job.pk)
    assert sorted(others.values_list("kind", "status", "rows_imported")) == [
        ("customers", "done", 3),
        ("purchases", "done", 3),
    ]


def test_api_token_printed_by_the_demo_lists_surveys_and_records_an_interaction(
    demo: str,
) -> None:
    token = re.search(r"API token of the demo user 'crm' .*: (\w+)", demo)
    assert token is not None
    client = Client(HTTP_AUTHORIZATION=f"Token {token.group(1)}")
    # when the token lists the surveys
    listed = client.get("/api/v1/surveys/")
    assert listed.status_code == 200
    assert len(listed.json()) == Survey.objects.count()
    # and records an after-sales interaction, as in the README
    recorded = client.post(
        "/api/v1/interactions/",
        {
            "customer_external_id": "C00042",
            "touchpoint": "after-sales-support",
            "agent": "agent2",
            "occurred_at": timezone.now().isoformat(),
            "external_id": "T-1",
        },
        content_type="application/json",
    )
    assert recorded.status_code == 201
    invitation = recorded.json()["invitation"]
    assert (invitation["channel"], invitation["status"]) == ("sms", "scheduled")
    assert User.objects.get(username=API_USERNAME).has_usable_password() is False


def test_outbox_is_drained_and_dashboard_shows_the_brief_targets(demo: str) -> None:
    assert not OutboxEvent.objects.filter(processed_at__isnull=True).exists()
    page = _client("manager").get("/dashboard/").content.decode()
    row = re.search(r'<tr data-metric="nps">(.*?)</tr>', page, re.S)
    assert row is not None
    cells = dict(re.findall(r'data-cell="(\w+)"[^>]*>(.*?)</td>', row.group(1), re.S))
    assert (
        _text(cells["baseline"]),
        _text(cells["annual_target"]),
        _text(cells["benchmark"]),
    ) == ("42.0", "58.0", "65.0")


def test_running_demo_data_twice_changes_nothing(demo: str) -> None:
    def counts() -> dict[str, int]:
        return {model._meta.label: model.objects.count() for model in apps.get_models()}

    before = counts()
    out = io.StringIO()
    call_command("demo_data", stdout=out)
    assert out.getvalue().startswith("Demo data already loaded.\nAPI token of the demo user")
    assert counts() == before


@pytest.mark.parametrize(
    "url",
    [
        "/surveys/",
        "/surveys/{survey}/",
        "/surveys/{survey}/qr/?location=Shanghai+%C2%B7+Nanjing+Road+store",
        "/surveys/{survey}/embed/",
        "/surveys/{survey}/sends/",
        "/surveys/{survey}/responses/",
        "/surveys/phone/",
        "/customers/",
        "/imports/",
        "/cases/",
        "/dashboard/",
        "/dashboard/analysis/",
        "/dashboard/report/",
    ],
)
def test_manager_pages_answer_on_the_demo(demo: str, url: str) -> None:
    survey = Survey.objects.get(brand_color="#0b5cab")
    response = _client("manager").get(url.format(survey=survey.pk))
    assert response.status_code == 200


def test_respondent_sees_the_branded_survey_in_the_browser_language(demo: str) -> None:
    survey = Survey.objects.get(brand_color="#0b5cab")
    chinese = Client().get(f"/s/{survey.public_id}/", HTTP_ACCEPT_LANGUAGE="zh-CN").content
    english = Client().get(f"/s/{survey.public_id}/", HTTP_ACCEPT_LANGUAGE="en").content
    nps = TEMPLATES["relationship_nps"].questions[0].text
    assert nps["zh-hans"] in chinese.decode()
    assert nps["en"] in english.decode()
    for page in (chinese.decode(), english.decode()):
        assert f"/s/{survey.public_id}/brand.css" in page
        assert f"/s/{survey.public_id}/logo" in page
    brand = Client().get(f"/s/{survey.public_id}/brand.css").content.decode()
    assert "--brand: #0b5cab" in brand
