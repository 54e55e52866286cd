"""Importing responses: every bad row reported, rows land whole, a re-import changes nothing,
imported responses reach the follow-up cases and the dashboard's figures."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import IntegrityError, transaction

from accounts.models import User
from csat.errors import ApplicationError
from csat.models import OutboxEvent
from feedback.models import Case
from metrics import selectors
from surveys.imports import services
from surveys.imports.models import ImportChunk, ImportJob, ImportRowError
from surveys.models import (
    Answer,
    Channel,
    Choice,
    Customer,
    GridRow,
    Question,
    Response,
    Segment,
    Survey,
    Touchpoint,
)
from tests.surveys.import_support import (
    RESPONSES_HEADER,
    check,
    drain_outbox,
    import_file,
    nps_columns,
    run,
    upload,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 6, 30, 12, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def _now() -> object:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def customers(db: None) -> None:
    Customer.objects.create(external_id="C-1", name="Li Wei", segment=Segment.HIGH_VALUE)
    Customer.objects.create(external_id="C-2", name="Ann", segment=Segment.CHURN_RISK)


@pytest.fixture
def after_sales(db: None) -> Touchpoint:
    return Touchpoint.objects.create(code="after_sales", name="After-sales support")


def _problems(job: ImportJob) -> list[tuple[int, str, str, str]]:
    return list(
        ImportRowError.objects.filter(job=job)
        .order_by("row", "pk")
        .values_list("row", "column", "value", "message")
    )


def test_the_check_lists_every_bad_row_with_its_row_column_and_problem(
    nps_survey: Survey, staff: User, customers: None, after_sales: Touchpoint
) -> None:
    # given a panel export with a good row and one bad row of each kind
    content = RESPONSES_HEADER + (
        "R-1,2025-05-01 10:00,C-1,sam.staff,after_sales,9,Quick\n"
        "R-2,2025-05-01 10:00,C-1,,,11,\n"
        "R-3,2025-05-01 10:00,C-404,,,8,\n"
        "R-4,yesterday,C-1,,,8,\n"
        "R-1,2025-05-02 10:00,C-2,,,7,\n"
        "R-6,2025-05-01 10:00,,nobody,moon,,\n"
        ",2025-07-01 10:00,,,,5,\n"
    )
    job = upload(content, survey=nps_survey)

    # when its columns are mapped and every row is checked
    job = check(job, nps_columns(nps_survey))

    # then every problem is listed: row (the header is row 1), column, value, problem
    assert _problems(job) == [
        (3, "score", "11", "Choose a whole number from 0 to 10."),
        (4, "customer", "C-404", "No customer has the external id C-404."),
        (5, "submitted_at", "yesterday", "Give a date and time such as 2025-03-31 23:30."),
        (6, "response_id", "R-1", "This id is already on row 2 of the file."),
        (7, "agent", "nobody", "No staff member has the user name nobody."),
        (7, "touchpoint", "moon", "No touchpoint has the code moon."),
        (7, "score", "", "This question needs an answer."),
        (8, "response_id", "", "Give the response id."),
        (8, "submitted_at", "2025-07-01 10:00", "This time is in the future."),
    ]
    assert (job.status, job.rows_total, job.rows_valid, job.rows_invalid) == ("validated", 7, 1, 6)
    # and nothing is stored by the check
    assert not Response.objects.exists()


def test_imported_rows_keep_their_time_quarter_customer_segment_agent_team_and_touchpoint(
    nps_survey: Survey, staff: User, customers: None, after_sales: Touchpoint
) -> None:
    content = RESPONSES_HEADER + (
        "R-1,2025-03-31 23:30,C-1,sam.staff,after_sales,10,Great\n"
        "R-2,2025-04-01T00:10:00+08:00,C-2,,,3,Slow\n"
    )

    job = import_file(content, nps_columns(nps_survey), survey=nps_survey)

    assert (job.status, job.rows_imported, job.rows_skipped, job.rows_invalid) == ("done", 2, 0, 0)
    first, second = Response.objects.order_by("import_key")
    assert (first.channel, first.status, first.import_key) == (Channel.IMPORT, "complete", "R-1")
    # a time without an offset is read in the reporting time zone: late March is 2025Q1
    assert first.submitted_at == datetime(2025, 3, 31, 23, 30, tzinfo=SHANGHAI)
    assert (first.quarter, second.quarter) == ("2025Q1", "2025Q2")
    assert first.customer == Customer.objects.get(external_id="C-1")
    assert (first.segment, second.segment) == (Segment.HIGH_VALUE, Segment.CHURN_RISK)
    assert (first.agent, first.team) == (staff, staff.team)
    assert (second.agent, second.team) == (None, None)
    assert (first.touchpoint, second.touchpoint) == (after_sales, None)
    assert list(
        Answer.objects.filter(response=first).order_by("pk").values_list("number", "text")
    ) == [(10, ""), (None, "Great")]


def test_a_bad_row_never_half_imports(db: None) -> None:
    # given a survey with two required scores: a row with a good NPS and a bad CSAT
    survey = Survey.objects.create(title="Two scores")
    nps = Question.objects.create(survey=survey, position=1, kind="nps", text="Recommend?")
    csat = Question.objects.create(survey=survey, position=2, kind="csat", text="Satisfied?")
    content = "id,when,nps,csat\nA,2025-05-01,9,4\nB,2025-05-01,9,6\n"

    job = import_file(
        content, {0: "key", 1: "submitted_at", 2: f"q{nps.pk}", 3: f"q{csat.pk}"}, survey=survey
    )

    # then row B is neither a response nor an answer, and it is reported
    assert list(Response.objects.values_list("import_key", flat=True)) == ["A"]
    assert Answer.objects.count() == 2
    assert _problems(job) == [(3, "csat", "6", "Choose a whole number from 1 to 5.")]
    assert (job.rows_imported, job.rows_invalid) == (1, 1)


def test_importing_the_same_file_twice_counts_each_row_once(
    nps_survey: Survey, customers: None
) -> None:
    content = RESPONSES_HEADER + (
        "R-1,2025-05-01 10:00,C-1,,,10,\nR-2,2025-05-01 11:00,C-2,,,2,Rude\n"
    )
    import_file(content, nps_columns(nps_survey), survey=nps_survey)
    drain_outbox()
    before = selectors.period_figure("2025Q2", "nps")
    assert before is not None

    # when the same file is checked and imported again
    again = check(upload(content, survey=nps_survey), nps_columns(nps_survey))
    assert (again.rows_valid, again.rows_existing) == (2, 2)
    again = run(again)
    drain_outbox()

    # then nothing changes: the rows are skipped, no case or figure moves
    assert (again.status, again.rows_imported, again.rows_skipped) == ("done", 0, 2)
    assert Response.objects.count() == 2
    assert Answer.objects.count() == 3
    assert Case.objects.count() == 1
    after = selectors.period_figure("2025Q2", "nps")
    assert after is not None
    assert (after.value, after.n) == (before.value, before.n) == (0.0, 2)
    assert not ImportChunk.objects.filter(job=again, created_count__gt=0).exists()


def test_an_imported_detractor_opens_a_case_and_the_dashboard_nps_includes_imports(
    nps_survey: Survey, customers: None, staff: User
) -> None:
    content = RESPONSES_HEADER + (
        "R-1,2025-05-01 10:00,C-1,sam.staff,,3,Nobody called back\n"
        "R-2,2025-05-01 11:00,C-2,,,9,\n"
        "R-3,2025-05-02 09:00,,,,10,\n"
    )

    job = import_file(content, nps_columns(nps_survey), survey=nps_survey)
    # one outbox event for the chunk, not one per response
    assert list(OutboxEvent.objects.values_list("kind", flat=True)) == ["import.chunk"]
    drain_outbox()

    case = Case.objects.get()
    assert case.response == Response.objects.get(import_key="R-1")
    assert (case.kind, case.channel, case.summary) == ("follow_up", "import", "Nobody called back")
    assert (case.agent, case.team, case.customer.external_id) == (staff, staff.team, "C-1")
    assert case.opened_at == datetime(2025, 5, 1, 10, tzinfo=SHANGHAI)
    assert case.quarter == "2025Q2"
    figures = selectors.metric_figures("2025Q2")
    # 2 promoters, 1 detractor of 3: NPS = 100 * (2/3 - 1/3)
    assert figures["nps"].n == 3
    assert figures["nps"].value == pytest.approx(100 / 3)
    channel = selectors.period_figure("2025Q2", "nps", {"channel": "import"})
    assert channel is not None
    assert channel.n == 3
    assert not job.rebuilds_rollups


def test_a_big_import_reaches_the_figures_by_one_rebuild_of_its_quarters(
    nps_survey: Survey, settings: object
) -> None:
    settings.IMPORT_INCREMENTAL_MAX_ROWS = 1  # type: ignore[attr-defined]
    content = RESPONSES_HEADER + (
        "R-1,2025-03-30 10:00,,,,0,\nR-2,2025-05-01 11:00,,,,10,\nR-3,2025-05-02 09:00,,,,10,\n"
    )

    job = import_file(content, nps_columns(nps_survey), survey=nps_survey)

    # then the figures are there once the import is done, before any outbox event ran
    assert job.rebuilds_rollups
    assert job.quarters == ["2025Q1", "2025Q2"]
    q1, q2 = selectors.period_figure("2025Q1", "nps"), selectors.period_figure("2025Q2", "nps")
    assert q1 is not None
    assert q2 is not None
    assert (q1.value, q1.n, q2.value, q2.n) == (-100.0, 1, 100.0, 2)
    assert set(Response.objects.values_list("in_rollup", flat=True)) == {True}
    # and the chunk's event opens the detractor's case
    drain_outbox()
    assert list(Case.objects.values_list("response__import_key", flat=True)) == ["R-1"]


def test_the_response_id_is_unique_across_all_imports_even_of_other_surveys(
    nps_survey: Survey,
) -> None:
    other = Survey.objects.create(title="Other panel")
    score = Question.objects.create(survey=other, position=1, kind="nps", text="Recommend?")
    import_file(
        RESPONSES_HEADER + "R-1,2025-05-01,,,,10,\n", nps_columns(nps_survey), survey=nps_survey
    )

    job = import_file(
        "id,when,score\nR-1,2025-05-01,0\n",
        {0: "key", 1: "submitted_at", 2: f"q{score.pk}"},
        survey=other,
    )

    assert (job.rows_imported, job.rows_skipped) == (0, 1)
    assert list(Response.objects.values_list("survey__title", flat=True)) == ["After-sales visit"]


def test_the_database_refuses_a_second_response_with_an_import_key(nps_survey: Survey) -> None:
    Response.objects.create(survey=nps_survey, channel="import", import_key="K", submitted_at=NOW)

    with pytest.raises(IntegrityError), transaction.atomic():
        Response.objects.create(
            survey=nps_survey, channel="import", import_key="K", submitted_at=NOW
        )
    # responses of other channels carry no key and are never blocked by it
    Response.objects.create(survey=nps_survey, channel="web", submitted_at=NOW)
    Response.objects.create(survey=nps_survey, channel="web", submitted_at=NOW)


@pytest.mark.parametrize("use_copy", [True, False], ids=["copy", "orm"])
def test_a_test_response_gives_up_its_key_to_a_later_import(
    nps_survey: Survey, use_copy: bool, request: pytest.FixtureRequest
) -> None:
    if use_copy:
        request.getfixturevalue("postgres")  # COPY is PostgreSQL's
    content = RESPONSES_HEADER + "R-1,2025-05-01 10:00,,,,10,\nR-2,2025-05-01 10:00,,,,9,\n"
    first = run(
        check(upload(content, survey=nps_survey), nps_columns(nps_survey)), use_copy=use_copy
    )
    marked = Response.objects.get(import_key="R-1")
    Response.objects.filter(pk=marked.pk).update(is_test=True)

    again = run(
        check(upload(content, survey=nps_survey), nps_columns(nps_survey)), use_copy=use_copy
    )

    # metrics.md: a test response never blocks a later complete one
    assert (first.rows_imported, again.rows_imported, again.rows_skipped) == (2, 1, 1)
    marked.refresh_from_db()
    assert marked.import_key == ""
    assert Response.objects.filter(import_key="R-1", is_test=False).count() == 1


@pytest.mark.parametrize("use_copy", [True, False], ids=["copy", "orm"])
def test_text_answers_keep_backslashes_tabs_and_line_breaks(
    nps_survey: Survey, use_copy: bool, request: pytest.FixtureRequest
) -> None:
    if use_copy:
        request.getfixturevalue("postgres")  # COPY is PostgreSQL's
    why = 'C:\\new\\table\tcol "quoted"\r\nnext line \\N 中文'
    quoted = '"' + why.replace('"', '""') + '"'
    content = RESPONSES_HEADER + f"R\\1\t,2025-05-01 10:00,,,,3,{quoted}\n"

    job = run(check(upload(content, survey=nps_survey), nps_columns(nps_survey)), use_copy=use_copy)

    assert job.rows_imported == 1
    response = Response.objects.get()
    assert response.import_key == "R\\1"  # the key's cell is stripped, its backslash kept
    text = Answer.objects.get(response=response, question__kind=Question.Kind.TEXT).text
    assert text == why


@pytest.mark.parametrize("use_copy", [True, False], ids=["copy", "orm"])
def test_both_writers_store_choices_yes_no_grids_and_conditional_follow_ups(
    db: None, use_copy: bool, request: pytest.FixtureRequest
) -> None:
    if use_copy:
        request.getfixturevalue("postgres")
    # given a survey with every kind of question the import reads
    survey = Survey.objects.create(title="Everything")
    nps = Question.objects.create(survey=survey, position=1, kind="nps", text="Recommend?")
    better = Question.objects.create(
        survey=survey,
        position=2,
        kind="text",
        text="What could we do better?",
        show_if_question=nps,
        show_if_max=6,
    )
    fcr = Question.objects.create(survey=survey, position=3, kind="yes_no", text="Resolved?")
    channel = Question.objects.create(survey=survey, position=4, kind="single_choice", text="How?")
    phone = Choice.objects.create(question=channel, position=1, label="Phone")
    Choice.objects.create(question=channel, position=2, label="Chat")
    topics = Question.objects.create(
        survey=survey, position=5, kind="multiple_choice", text="Topics?", is_required=False
    )
    price = Choice.objects.create(question=topics, position=1, label="Price")
    speed = Choice.objects.create(question=topics, position=2, label="Speed")
    grid = Question.objects.create(survey=survey, position=6, kind="rating_grid", text="Rate")
    empathy = GridRow.objects.create(question=grid, position=1, label="Empathy")
    skill = GridRow.objects.create(question=grid, position=2, label="Skill")
    content = (
        "id,when,nps,better,fcr,channel,topics,empathy,skill\n"
        "A,2025-05-01,3,Call me back,是,phone,Price; Speed,4,5\n"
        "B,2025-05-01,10,Ignored: not shown,no,Chat,,5,5\n"
        "C,2025-05-01,10,,maybe,Fax,Gold,4,\n"
    )
    columns = {
        0: "key",
        1: "submitted_at",
        2: f"q{nps.pk}",
        3: f"q{better.pk}",
        4: f"q{fcr.pk}",
        5: f"q{channel.pk}",
        6: f"q{topics.pk}",
        7: f"q{grid.pk}r{empathy.pk}",
        8: f"q{grid.pk}r{skill.pk}",
    }

    job = run(check(upload(content, survey=survey), columns), use_copy=use_copy)

    answers = sorted(
        Answer.objects.filter(response__import_key="A").values_list(
            "question_id", "grid_row_id", "choice_id", "number", "text"
        ),
        key=str,
    )
    assert answers == sorted(
        [
            (nps.pk, None, None, 3, ""),
            (better.pk, None, None, None, "Call me back"),
            (fcr.pk, None, None, 1, ""),
            (channel.pk, None, phone.pk, None, ""),
            (topics.pk, None, price.pk, None, ""),
            (topics.pk, None, speed.pk, None, ""),
            (grid.pk, empathy.pk, None, 4, ""),
            (grid.pk, skill.pk, None, 5, ""),
        ],
        key=str,
    )
    # the follow-up shown only for NPS <= 6 is left out of B
    assert not Answer.objects.filter(response__import_key="B", question=better).exists()
    assert _problems(job) == [
        (4, "fcr", "maybe", "Answer yes or no."),
        (4, "channel", "Fax", "Choose one of: Phone; Chat."),
        (4, "topics", "Gold", "Choose one of: Price; Speed."),
        (4, "skill", "", "Rate every row."),
    ]


def test_a_mapping_without_the_required_columns_is_refused(nps_survey: Survey) -> None:
    job = upload(RESPONSES_HEADER + "R-1,2025-05-01,,,,9,\n", survey=nps_survey)
    nps = nps_survey.questions.get(kind="nps")

    with pytest.raises(ApplicationError) as refused:
        services.import_job_set_mapping(job=job, columns={0: "key", 5: f"q{nps.pk}", 6: "key"})

    assert refused.value.fields == {
        "column_6": ["Response id is already mapped to column 1."],
        "mapping": ["Map a column to each of: Submitted at."],
    }
    job.refresh_from_db()
    assert job.status == "mapping"


def test_a_file_whose_every_row_is_bad_cannot_be_imported(nps_survey: Survey) -> None:
    job = check(
        upload(RESPONSES_HEADER + "R-1,2025-05-01,,,,99,\n", survey=nps_survey),
        nps_columns(nps_survey),
    )

    with pytest.raises(ApplicationError, match=r"Nothing to import: every row has a problem\."):
        services.import_job_confirm(job=job)


def test_a_started_import_can_be_neither_remapped_nor_cancelled(nps_survey: Survey) -> None:
    job = import_file(
        RESPONSES_HEADER + "R-1,2025-05-01,,,,9,\n", nps_columns(nps_survey), survey=nps_survey
    )

    with pytest.raises(ApplicationError, match="its mapping can no longer change"):
        services.import_job_set_mapping(job=job, columns=nps_columns(nps_survey))
    with pytest.raises(ApplicationError, match=r"An import that has started cannot be cancelled\."):
        services.import_job_cancel(job=job)


def test_an_imported_file_is_not_kept_once_imported(nps_survey: Survey) -> None:
    job = upload(RESPONSES_HEADER + "R-1,2025-05-01,,,,9,\n", survey=nps_survey)
    assert job.parts.count() == 1

    job = run(check(job, nps_columns(nps_survey)))

    assert job.parts.count() == 0


def test_customer_rows_with_a_bad_email_or_phone_are_listed_and_good_phones_normalised(
    db: None,
) -> None:
    # given a customer file with a good row, a bad email and a phone that is no number
    content = (
        "id,email,phone\n"
        "C-7,ann@example.com,+86 138-0000-0007\n"
        "C-8,not-an-email,13800000008\n"
        "C-9,bo@example.com,call me\n"
    )

    # when it is checked and imported
    job = import_file(
        content, {0: "external_id", 1: "email", 2: "phone"}, kind=ImportJob.Kind.CUSTOMERS
    )

    # then each bad row is in the report naming its column, and only the good row is stored,
    # its phone as the customer page stores one
    assert [(row, column, value) for row, column, value, _message in _problems(job)] == [
        (3, "email", "not-an-email"),
        (4, "phone", "call me"),
    ]
    assert (
        _problems(job)[1][3]
        == "Enter a phone number of 6 to 15 digits, optionally starting with +."
    )
    assert list(Customer.objects.values_list("external_id", "phone")) == [("C-7", "+8613800000007")]
