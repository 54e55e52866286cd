"""Cases: low scores open follow-ups; staff log complaints and work them to closure."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Role, Team, User
from accounts.services import user_create
from csat.errors import ApplicationError
from csat.models import OutboxEvent
from csat.outbox import outbox_process
from feedback.models import Case, ComplaintCategory, ImprovementAction, RootCause, SlaPolicy
from feedback.services import case_categorise, case_log_complaint, case_resolve
from metrics import selectors
from metrics.models import DirtyPeriod
from metrics.selectors import complaint_categories
from metrics.services import metrics_rebuild, metrics_recompute_dirty
from surveys.marking import response_mark
from surveys.models import Customer, Question, Survey
from surveys.services import response_submit
from tests.conftest import PASSWORD

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def category(db: None) -> ComplaintCategory:
    return ComplaintCategory.objects.create(
        name="Slow after-sales response", root_cause=RootCause.PROCESS
    )


def _answer_and_process(survey: Survey, answers: dict[str, object]) -> None:
    response_submit(survey=survey, raw_answers=answers)
    for event_id in OutboxEvent.objects.filter(processed_at__isnull=True).values_list(
        "pk", flat=True
    ):
        outbox_process(event_id)


@pytest.mark.parametrize(("score", "opens"), [(0, True), (6, True), (7, False), (10, False)])
def test_detractor_opens_a_follow_up_case_and_others_do_not(
    nps_survey: Survey, score: int, opens: bool
) -> None:
    nps = nps_survey.questions.get(kind="nps")

    _answer_and_process(nps_survey, {str(nps.pk): score})

    assert Case.objects.filter(kind=Case.Kind.FOLLOW_UP).exists() is opens


def test_follow_up_case_has_sla_deadlines_from_the_response_time(nps_survey: Survey) -> None:
    nps = nps_survey.questions.get(kind="nps")
    moment = datetime(2025, 6, 1, 10, tzinfo=SHANGHAI)

    with time_machine.travel(moment, tick=False):
        _answer_and_process(nps_survey, {str(nps.pk): 2})

    case = Case.objects.get()
    assert case.opened_at == moment
    assert case.first_response_due_at == moment + timedelta(hours=24)
    assert case.resolution_due_at == moment + timedelta(hours=48)
    assert case.quarter == "2025Q2"


@pytest.mark.parametrize(
    ("scale", "score", "opens"), [(5, 2, True), (5, 3, False), (7, 2, True), (10, 3, False)]
)
def test_low_csat_in_the_bottom_two_points_opens_a_case(
    staff: User, scale: int, score: int, opens: bool
) -> None:
    survey = Survey.objects.create(title="Stars")
    question = Question.objects.create(
        survey=survey, position=1, kind="csat", text="Stars?", scale_min=1, scale_max=scale
    )

    _answer_and_process(survey, {str(question.pk): score})

    assert Case.objects.exists() is opens


def test_processing_the_event_twice_opens_one_case(nps_survey: Survey) -> None:
    nps = nps_survey.questions.get(kind="nps")
    response_submit(survey=nps_survey, raw_answers={str(nps.pk): 1})
    event = OutboxEvent.objects.get(kind="response.submitted")

    outbox_process(event.pk)
    OutboxEvent.objects.filter(pk=event.pk).update(processed_at=None)
    outbox_process(event.pk)

    assert Case.objects.count() == 1


def test_sla_policy_sets_complaint_deadlines(staff: User, category: ComplaintCategory) -> None:
    SlaPolicy.objects.create(case_kind="complaint", first_response_hours=4, resolution_hours=24)
    opened = datetime(2025, 6, 1, 10, tzinfo=SHANGHAI)

    with time_machine.travel(opened + timedelta(hours=1), tick=False):
        case = case_log_complaint(
            category=category, channel="phone", summary="Late", agent=staff, opened_at=opened
        )

    assert case.first_response_due_at == opened + timedelta(hours=4)
    assert case.resolution_due_at == opened + timedelta(hours=24)
    assert case.team == staff.team


def test_resolving_without_first_response_makes_the_resolution_the_first_response(
    staff: User, category: ComplaintCategory
) -> None:
    case = case_log_complaint(category=category, channel="web", summary="Broken", agent=staff)

    case_resolve(case=case, resolution="Repaired on site.")

    case.refresh_from_db()
    assert case.status == Case.Status.RESOLVED
    assert case.first_response_at is None  # the metrics read the resolution as the first one


def test_staff_logs_a_complaint_through_the_api(staff: User, category: ComplaintCategory) -> None:
    client = APIClient()
    client.force_login(staff)

    response = client.post(
        "/api/v1/cases/",
        {"category": category.pk, "channel": "phone", "summary": "Waited 3 days"},
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["kind"] == "complaint"
    assert response.json()["category"] == "Slow after-sales response"


def test_complaint_without_category_is_refused_naming_the_field(staff: User) -> None:
    client = APIClient()
    client.force_login(staff)

    response = client.post("/api/v1/cases/", {"channel": "fax", "summary": ""}, format="json")

    assert response.status_code == 400
    assert sorted(response.json()["error"]["fields"]) == ["category", "channel", "summary"]
    assert not Case.objects.exists()


def test_resolution_before_the_case_opened_is_refused(
    staff: User, category: ComplaintCategory
) -> None:
    case = case_log_complaint(category=category, channel="web", summary="x", agent=staff)
    client = APIClient()
    client.force_login(staff)

    response = client.post(
        f"/api/v1/cases/{case.pk}/resolve/",
        {"at": (case.opened_at - timedelta(hours=1)).isoformat(), "resolution": "Repaired."},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "resolved_at": ["Give a time after the case was opened."]
    }


def test_staff_never_sees_another_teams_cases(staff: User, category: ComplaintCategory) -> None:
    other_team = Team.objects.create(name="Night shift")
    outsider = user_create(username="olga", password=PASSWORD, role=Role.STAFF, team=other_team)
    case = case_log_complaint(category=category, channel="web", summary="Ours", agent=staff)
    client = Client()
    client.force_login(outsider)

    listing = client.get("/cases/?status=all")
    detail = client.get(f"/cases/{case.pk}/")
    act = client.post(f"/cases/{case.pk}/resolve/")

    assert "Ours" not in listing.content.decode()
    assert f"/cases/{case.pk}/" not in listing.content.decode()
    assert detail.status_code == 404
    assert act.status_code == 404
    case.refresh_from_db()
    assert case.status == Case.Status.OPEN


def test_staff_works_a_case_to_closure_in_the_pages(
    staff_client: Client, staff: User, category: ComplaintCategory
) -> None:
    created = staff_client.post(
        "/cases/complaint/",
        {"category": category.pk, "channel": "phone", "summary": "Slow repair"},
    )
    case = Case.objects.get()

    staff_client.post(f"/cases/{case.pk}/first-response/")
    staff_client.post(f"/cases/{case.pk}/contact/")
    staff_client.post(f"/cases/{case.pk}/resolve/", {"resolution": "Repaired on site."})

    case.refresh_from_db()
    assert created.status_code == 302
    assert case.first_response_at is not None
    assert case.contact_count == 2
    assert case.status == Case.Status.RESOLVED


def test_manager_sees_every_teams_cases(
    manager_client: Client, staff: User, category: ComplaintCategory
) -> None:
    case = case_log_complaint(category=category, channel="web", summary="Visible", agent=staff)

    assert manager_client.get(f"/cases/{case.pk}/").status_code == 200


def _process_outbox() -> None:
    while pending := list(
        OutboxEvent.objects.filter(processed_at__isnull=True).values_list("pk", flat=True)
    ):
        for event_id in pending:
            outbox_process(event_id)


def _cases_counted(quarter: str) -> int:
    metrics_rebuild([quarter])
    figure = selectors.period_figure(quarter, "problem_conversion")
    return figure.n if figure is not None else 0


def test_a_case_whose_response_is_marked_spam_is_closed_uncounted_and_reopened_when_cleared(
    staff: User, staff_client: Client, nps_survey: Survey
) -> None:
    # given a detractor's follow-up case, counted in the case metrics
    nps = nps_survey.questions.get(kind=Question.Kind.NPS)
    with time_machine.travel(datetime(2026, 5, 10, 9, tzinfo=SHANGHAI), tick=False):
        response, _created = response_submit(
            survey=nps_survey, raw_answers={str(nps.pk): 2}, agent=staff
        )
        _process_outbox()
    case = Case.objects.get(response=response)
    quarter = case.quarter
    assert _cases_counted(quarter) == 1

    # when staff mark the response as spam
    with time_machine.travel(datetime(2026, 5, 11, 10, 30, tzinfo=SHANGHAI), tick=False):
        staff_client.post(f"/responses/{response.pk}/mark/", {"is_spam": "1"})
        _process_outbox()
        page = staff_client.get(f"/cases/{case.pk}/").content.decode()

    # then the case is closed with a note saying why, has no actions, and no metric counts it
    case.refresh_from_db()
    assert (case.status, case.resolved_at) == ("withdrawn", None)
    assert case.resolution_note == (
        "Closed on 2026-05-11 10:30 by sam.staff marking the response behind this case as "
        "spam: the response no longer counts, and neither does this case in any case metric."
    )
    assert "Closed, not counted" in page
    assert 'data-testid="resolution-note"' in page
    assert "Resolve</button>" not in page
    assert _cases_counted(quarter) == 0
    with pytest.raises(ApplicationError):
        case_resolve(case=case, resolution="Repaired on site.")

    # when the mark is removed (it was not spam after all)
    with time_machine.travel(datetime(2026, 5, 12, 8, tzinfo=SHANGHAI), tick=False):
        staff_client.post(f"/responses/{response.pk}/mark/", {"is_spam": "0"})
        _process_outbox()

    # then the case is open again for staff to work, counted, with both notes kept
    case.refresh_from_db()
    assert case.status == "open"
    assert case.resolution_note.splitlines()[1] == (
        "Reopened on 2026-05-12 08:00: sam.staff removed the test or spam mark from the "
        "response behind this case, so it counts again."
    )
    assert _cases_counted(quarter) == 1


def test_a_resolved_case_marked_test_leaves_the_metrics_and_returns_resolved(
    staff: User, nps_survey: Survey
) -> None:
    nps = nps_survey.questions.get(kind=Question.Kind.NPS)
    response, _created = response_submit(survey=nps_survey, raw_answers={str(nps.pk): 0})
    _process_outbox()
    case = case_resolve(case=Case.objects.get(response=response), resolution="Called back.")

    response_mark(response=response, is_test=True, by=staff)
    case.refresh_from_db()
    assert case.status == "withdrawn"
    assert "as a test: the response no longer counts" in case.resolution_note

    response_mark(response=response, is_test=False, by=staff)
    case.refresh_from_db()
    assert (case.status, case.resolved_at is not None) == ("resolved", True)


def test_a_low_score_marked_before_its_case_opened_gets_one_when_the_mark_is_removed(
    staff: User, nps_survey: Survey
) -> None:
    nps = nps_survey.questions.get(kind=Question.Kind.NPS)
    response, _created = response_submit(survey=nps_survey, raw_answers={str(nps.pk): 3})
    response_mark(response=response, is_spam=True, by=staff)
    _process_outbox()  # the submission's event: a spam response opens no case
    assert not Case.objects.exists()

    response_mark(response=response, is_spam=False, by=staff)

    assert Case.objects.get(response=response).status == "open"


def test_upgrade_closes_the_cases_of_responses_marked_before_cases_followed_the_marks(
    staff: User, nps_survey: Survey
) -> None:
    from importlib import import_module

    from django.apps import apps

    # given a detractor's case whose response was marked spam the old way (no case change)
    nps = nps_survey.questions.get(kind=Question.Kind.NPS)
    spam, _created = response_submit(survey=nps_survey, raw_answers={str(nps.pk): 1})
    kept, _created = response_submit(survey=nps_survey, raw_answers={str(nps.pk): 2})
    _process_outbox()
    type(spam).objects.filter(pk=spam.pk).update(is_spam=True)

    # when the data migration runs
    import_module("feedback.migrations.0006_withdraw_cases_of_marked_responses").withdraw(
        apps, None
    )

    # then that case is closed as not counted, with a note; the other stays open
    assert list(Case.objects.order_by("pk").values_list("response_id", "status")) == [
        (spam.pk, "withdrawn"),
        (kept.pk, "open"),
    ]
    assert "marked as spam or test" in Case.objects.get(response=spam).resolution_note


def test_admin_sets_the_complaint_sla_in_the_admin_site_and_new_complaints_follow_it(
    admin_client_: Client, staff: User
) -> None:
    # given the admin opens the SLA policies from the teams page
    teams = admin_client_.get("/settings/teams/").content.decode()
    assert 'href="/admin/feedback/slapolicy/"' in teams
    assert admin_client_.get("/admin/feedback/slapolicy/").status_code == 200

    # when they set complaints to a 4 h reply and a 24 h resolution
    saved = admin_client_.post(
        "/admin/feedback/slapolicy/add/",
        {"case_kind": "complaint", "first_response_hours": "4", "resolution_hours": "24"},
    )

    # then the policy is stored and the next complaint is due by it
    assert saved.status_code == 302
    assert SlaPolicy.objects.get().case_kind == "complaint"
    category = ComplaintCategory.objects.create(name="Late reply", root_cause=RootCause.PROCESS)
    case = case_log_complaint(category=category, channel="phone", summary="x", agent=staff)
    assert case.first_response_due_at - case.opened_at == timedelta(hours=4)
    assert case.resolution_due_at - case.opened_at == timedelta(hours=24)


def test_an_impossible_sla_is_refused_naming_the_field(admin_client_: Client) -> None:
    before = admin_client_.post(
        "/admin/feedback/slapolicy/add/",
        {"case_kind": "complaint", "first_response_hours": "48", "resolution_hours": "24"},
    )
    unknown = admin_client_.post(
        "/admin/feedback/slapolicy/add/",
        {"case_kind": "complaints", "first_response_hours": "4", "resolution_hours": "24"},
    )
    zero = admin_client_.post(
        "/admin/feedback/slapolicy/add/",
        {"case_kind": "follow_up", "first_response_hours": "0", "resolution_hours": "24"},
    )

    assert before.status_code == unknown.status_code == zero.status_code == 200  # form again
    assert (
        "Resolution cannot be due before the first response: it is 24 h, the first response 48 h."
        in before.content.decode()
    )
    assert "Select a valid choice. complaints is not one of the available choices." in (
        unknown.content.decode()
    )
    assert "Ensure this value is greater than or equal to 1." in zero.content.decode()
    assert not SlaPolicy.objects.exists()


def test_the_follow_up_page_shows_what_the_customer_answered_and_what_is_overdue(
    manager_client: Client, nps_survey: Survey
) -> None:
    # given a detractor's answer two days ago opened a follow-up with a 24 h / 48 h SLA
    questions = {question.kind: question for question in nps_survey.questions.all()}
    with time_machine.travel(timezone.now() - timedelta(hours=30), tick=False):
        _answer_and_process(
            nps_survey,
            {str(questions["nps"].pk): 3, str(questions["text"].pk): "Nobody called me back."},
        )
    case = Case.objects.get()

    # when the manager opens it
    page = manager_client.get(f"/cases/{case.pk}/").content.decode()

    # then they read the score and the comment, and see the first response is overdue
    assert '<dl class="facts answers" data-testid="case-answers">' in page
    assert f"<dt>{questions['nps'].text}</dt><dd><strong>3</strong></dd>" in page
    assert f"<dt>{questions['text'].text}</dt><dd>Nobody called me back.</dd>" in page
    assert 'data-testid="first-response-overdue">overdue</span>' in page
    assert 'data-testid="resolution-overdue"' not in page  # 48 h not yet gone
    assert '<a href="/cases/">Back to the cases</a>' in page


def test_the_case_list_marks_the_chosen_status_and_the_overdue_cases(
    staff_client: Client, staff: User, category: ComplaintCategory
) -> None:
    with time_machine.travel(timezone.now() - timedelta(days=3), tick=False):
        late = case_log_complaint(category=category, channel="phone", summary="x", agent=staff)
    fresh = case_log_complaint(category=category, channel="phone", summary="y", agent=staff)

    page = staff_client.get("/cases/?status=open").content.decode()

    assert '<a href="?status=open" aria-current="page">Open</a>' in page
    assert '<a href="?status=all">All</a>' in page
    rows = {row.split("</a>")[0]: row for row in page.split('<a href="/cases/')[1:]}
    assert '<span class="badge overdue">overdue</span>' in rows[f'{late.pk}/">{late.pk}']
    assert "overdue" not in rows[f'{fresh.pk}/">{fresh.pk}']


def test_manager_reads_the_improvement_actions_and_moves_one_to_done(
    manager_client: Client, manager: User, staff: User, category: ComplaintCategory
) -> None:
    # given an overdue action fed by one complaint
    case = case_log_complaint(category=category, channel="phone", summary="x", agent=staff)
    action = ImprovementAction.objects.create(
        title="Same-day after-sales callback",
        owner=manager,
        lead_department="After-sales",
        supporting_departments="Logistics, IT",
        deadline=timezone.localdate() - timedelta(days=1),
    )
    action.cases.add(case)

    # when the manager opens the actions page, and the case
    page = manager_client.get("/actions/").content.decode()
    case_page = manager_client.get(f"/cases/{case.pk}/").content.decode()

    # then the action shows its departments, its one case and that it is overdue
    assert '<a href="/actions/">Actions</a>' in page
    row = page.split(f'<tr data-action="{action.pk}">')[1].split("</tr>")[0]
    assert "Same-day after-sales callback" in row
    assert "<td>After-sales</td>" in row
    assert "<td>Logistics, IT</td>" in row
    assert '<td class="num">1</td>' in row
    assert '<span class="badge overdue">overdue</span>' in row
    assert "Same-day after-sales callback · After-sales" in case_page

    # and when they mark it done, it is done and no longer overdue
    done = manager_client.post(f"/actions/{action.pk}/status/", {"status": "done"}, follow=True)
    after = done.content.decode()
    assert "“Same-day after-sales callback” is now Done." in after
    assert "overdue" not in after.split(f'<tr data-action="{action.pk}">')[1].split("</tr>")[0]
    # and an unknown status is refused, naming the field and the choices
    bad = manager_client.post(f"/actions/{action.pk}/status/", {"status": "finished"}, follow=True)
    assert (
        "Status: choose one of Planned, In progress, Done; “finished” is not one."
        in bad.content.decode()
    )
    action.refresh_from_db()
    assert action.status == ImprovementAction.Status.DONE


def test_staff_cannot_open_or_change_improvement_actions(staff_client: Client) -> None:
    assert staff_client.get("/actions/").status_code == 403
    assert staff_client.post("/actions/1/status/", {"status": "done"}).status_code == 403


def test_chinese_manager_reads_the_actions_page_and_an_overdue_case_in_chinese(
    manager_client: Client, manager: User, staff: User, category: ComplaintCategory
) -> None:
    with time_machine.travel(timezone.now() - timedelta(days=3), tick=False):
        case = case_log_complaint(category=category, channel="phone", summary="x", agent=staff)
    ImprovementAction.objects.create(
        title="回访提速", owner=manager, lead_department="售后部", deadline=timezone.localdate()
    ).cases.add(case)
    manager_client.cookies["django_language"] = "zh-hans"

    actions = manager_client.get("/actions/").content.decode()
    detail = manager_client.get(f"/cases/{case.pk}/").content.decode()

    assert '<a href="/actions/">改进措施</a>' in actions
    assert "<h1>改进措施</h1>" in actions
    assert '<th scope="col">牵头部门</th>' in actions
    assert '<span class="badge overdue" data-testid="resolution-overdue">已逾期</span>' in detail
    assert "<h2>本工单关联的改进措施</h2>" in detail
    assert '<a href="/cases/">返回工单列表</a>' in detail


def test_a_chinese_reader_sees_the_case_questions_in_chinese_where_the_survey_has_them(
    manager_client: Client, nps_survey: Survey
) -> None:
    nps = nps_survey.questions.get(kind="nps")
    nps.translations = {"zh-hans": {"text": "您有多大可能推荐我们？"}}  # noqa: RUF001
    nps.save()
    _answer_and_process(nps_survey, {str(nps.pk): 2})
    manager_client.cookies["django_language"] = "zh-hans"

    page = manager_client.get(f"/cases/{Case.objects.get().pk}/").content.decode()

    assert "<dt>您有多大可能推荐我们？</dt><dd><strong>2</strong></dd>" in page  # noqa: RUF001


def test_the_complaint_form_preselects_no_channel_and_refuses_one_left_unchosen(
    staff_client: Client, category: ComplaintCategory
) -> None:
    # given a staff member opens the complaint form
    form = staff_client.get("/cases/complaint/").content.decode()
    # then no channel is preselected: the first option asks for one and has no value
    assert '<option value="" selected>Choose the channel the complaint came in on</option>' in form
    assert '<option value="web" selected>' not in form
    # when they submit without choosing one
    refused = staff_client.post(
        "/cases/complaint/", {"category": category.pk, "channel": "", "summary": "Slow repair"}
    )
    # then the form comes back naming the field, and no case is logged
    assert refused.status_code == 400
    assert "Choose the channel the complaint came in on." in refused.content.decode()
    assert not Case.objects.exists()
    # and with the channel chosen the complaint is logged on it
    staff_client.post(
        "/cases/complaint/", {"category": category.pk, "channel": "phone", "summary": "Slow repair"}
    )
    assert Case.objects.get().channel == "phone"


def test_staff_cannot_resolve_a_case_without_saying_what_was_done(
    staff_client: Client, staff: User, category: ComplaintCategory
) -> None:
    # given an open complaint
    case = case_log_complaint(category=category, channel="phone", summary="Slow", agent=staff)
    events = OutboxEvent.objects.count()
    # when staff press Resolve with the note left blank
    refused = staff_client.post(f"/cases/{case.pk}/resolve/", {"resolution": "   "})
    # then the page comes back with the problem beside the field, and nothing changed
    assert refused.status_code == 400
    page = refused.content.decode()
    assert (
        '<p class="error" role="alert" id="id_resolution_error">'
        "Describe what was done for the customer.</p>"
    ) in page
    case.refresh_from_db()
    assert case.status == Case.Status.OPEN
    assert case.resolved_at is None
    assert OutboxEvent.objects.count() == events
    # and through the API the same, naming the field
    client = APIClient()
    client.force_login(staff)
    api = client.post(f"/api/v1/cases/{case.pk}/resolve/", {}, format="json")
    assert api.status_code == 400
    assert api.json()["error"]["fields"] == {
        "resolution": ["Describe what was done for the customer."]
    }


def test_the_resolution_staff_write_shows_on_the_case_page_and_in_the_api(
    staff_client: Client, staff: User, category: ComplaintCategory
) -> None:
    case = case_log_complaint(category=category, channel="phone", summary="Slow", agent=staff)

    resolved = staff_client.post(
        f"/cases/{case.pk}/resolve/",
        {"resolution": "Replaced the part; <b>refunded</b> the delivery fee."},
    )

    assert resolved.status_code == 302
    case.refresh_from_db()
    assert case.status == Case.Status.RESOLVED
    assert case.resolution == "Replaced the part; <b>refunded</b> the delivery fee."
    assert case.resolved_by == staff
    page = staff_client.get(f"/cases/{case.pk}/").content.decode()
    assert "<h2>What was done</h2>" in page
    assert (
        '<p data-testid="case-resolution">Replaced the part; &lt;b&gt;refunded&lt;/b&gt; '
        "the delivery fee.</p>"
    ) in page
    client = APIClient()
    client.force_login(staff)
    [row] = [item for item in client.get("/api/v1/cases/").json() if item["id"] == case.pk]
    assert row["resolution"] == "Replaced the part; <b>refunded</b> the delivery fee."
    assert row["resolved_by"] == staff.username
    assert row["status"] == "resolved"


def test_staff_categorise_a_follow_up_case_and_the_case_metrics_are_recomputed(
    staff_client: Client, staff: User, nps_survey: Survey, category: ComplaintCategory
) -> None:
    # given a follow-up case opened by a detractor, with no category, assigned to staff
    nps = nps_survey.questions.get(kind=Question.Kind.NPS)
    _answer_and_process(nps_survey, {str(nps.pk): 2})
    Case.objects.update(assignee=staff)
    case = Case.objects.get()
    assert case.category is None
    DirtyPeriod.objects.all().delete()
    # when staff choose a category on the case page
    saved = staff_client.post(f"/cases/{case.pk}/category/", {"category": category.pk})
    # then it is kept and shown, and the case's quarter is marked for recompute through the
    # same outbox event as every other case change
    assert saved.status_code == 302
    case.refresh_from_db()
    assert case.category == category
    page = staff_client.get(f"/cases/{case.pk}/").content.decode()
    assert f'<option value="{category.pk}" selected>Slow after-sales response (Process)' in page
    _process_outbox()
    assert set(DirtyPeriod.objects.values_list("period", "family")) == {(case.quarter, "cases")}


@pytest.mark.parametrize("value", ["", "abc", "999999", "inactive"])
def test_a_category_outside_the_active_taxonomy_is_refused_naming_the_field(
    staff_client: Client, staff: User, category: ComplaintCategory, value: str
) -> None:
    case = case_log_complaint(category=category, channel="phone", summary="Slow", agent=staff)
    if value == "inactive":
        value = str(
            ComplaintCategory.objects.create(
                name="Retired", root_cause=RootCause.POLICY, is_active=False
            ).pk
        )
    events = OutboxEvent.objects.count()

    refused = staff_client.post(f"/cases/{case.pk}/category/", {"category": value})

    assert refused.status_code == 400
    assert "Choose a category of the complaint taxonomy." in refused.content.decode()
    case.refresh_from_db()
    assert case.category == category
    assert OutboxEvent.objects.count() == events


def test_moving_a_complaint_to_another_category_moves_it_in_the_pareto(
    staff: User, category: ComplaintCategory, nps_survey: Survey
) -> None:
    # given two complaints in "Slow after-sales response" and a categorised follow-up
    other = ComplaintCategory.objects.create(name="Rude staff", root_cause=RootCause.PEOPLE)
    first = case_log_complaint(category=category, channel="phone", summary="a", agent=staff)
    case_log_complaint(category=category, channel="phone", summary="b", agent=staff)
    nps = nps_survey.questions.get(kind=Question.Kind.NPS)
    _answer_and_process(nps_survey, {str(nps.pk): 1})
    follow_up = Case.objects.get(kind=Case.Kind.FOLLOW_UP)
    quarter = first.quarter
    # when staff move one complaint to "Rude staff" and categorise the follow-up
    case_categorise(case=first, category_id=other.pk)
    case_categorise(case=follow_up, category_id=other.pk)
    _process_outbox()
    metrics_recompute_dirty(now=timezone.now() + timedelta(minutes=5))
    # then the Pareto counts each category's complaints (metrics.md: complaints only; a
    # follow-up's category is kept on the case but is not a complaint)
    counts = {row["name"]: row["complaints"] for row in complaint_categories(quarter)}
    assert counts == {"Slow after-sales response": 1, "Rude staff": 1}


def test_moving_a_repeat_complaint_out_of_its_category_recomputes_the_earlier_complaint(
    staff: User, category: ComplaintCategory
) -> None:
    # given a customer's complaint resolved in March and a repeat in the same category in April
    customer = Customer.objects.create(external_id="C-9", name="Li Lei")
    other = ComplaintCategory.objects.create(name="Rude staff", root_cause=RootCause.PEOPLE)
    march = datetime(2026, 3, 20, 10, tzinfo=SHANGHAI)
    earlier = case_log_complaint(
        category=category, channel="phone", summary="a", customer=customer, opened_at=march
    )
    case_resolve(case=earlier, resolution="Fixed.", at=march + timedelta(days=1))
    repeat = case_log_complaint(
        category=category,
        channel="phone",
        summary="b",
        customer=customer,
        opened_at=datetime(2026, 4, 5, 10, tzinfo=SHANGHAI),
    )
    _process_outbox()
    DirtyPeriod.objects.all().delete()
    # when staff move the April complaint to another category
    case_categorise(case=repeat, category_id=other.pk)
    _process_outbox()
    # then March's complaint is no longer followed by a repeat: its quarter is recomputed too
    assert set(DirtyPeriod.objects.values_list("period", flat=True)) == {"2026Q1", "2026Q2"}
