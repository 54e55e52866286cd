# ruff: noqa: RUF001
"""The survey builder: templates, every kind of question, validation naming the field,
answered questions that keep their meaning, order, translations, preview."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from accounts.models import User
from csat.errors import ApplicationError
from surveys.builder import (
    OptionSpec,
    QuestionSpec,
    SurveySettings,
    dimension_get_or_create,
    question_move,
    question_save,
    survey_create,
    survey_update,
)
from surveys.models import Dimension, Question, Response, Survey
from surveys.services import response_submit
from surveys.templates_library import TEMPLATES, survey_create_from_template
from tests.surveys.builders import full_answers, multi_kind_survey, questions_by_kind


def _survey(staff: User | None) -> Survey:
    return survey_create(values=SurveySettings(title={"en": "Blank"}), created_by=None)


def _refused(survey: Survey, spec: QuestionSpec, question: Question | None = None) -> dict:
    with pytest.raises(ApplicationError) as error:
        question_save(survey=survey, spec=spec, question=question)
    assert error.value.message == "The question needs attention."
    return error.value.fields


# ---------------------------------------------------------------- pages


def test_staff_create_a_blank_draft_survey_and_see_its_page(staff_client: Client) -> None:
    response = staff_client.post(
        "/surveys/new/", {"template": "", "default_language": "en", "title_en": "Delivery"}
    )

    survey = Survey.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/surveys/{survey.pk}/"
    assert (survey.title, survey.status, survey.default_language) == ("Delivery", "draft", "en")
    page = staff_client.get(response["Location"]).content.decode()
    assert f"http://testserver/s/{survey.pk and survey.public_id}/" in page
    assert "No questions yet." in page


def test_a_blank_survey_without_title_is_refused_naming_the_field(staff_client: Client) -> None:
    response = staff_client.post("/surveys/new/", {"template": "", "default_language": "en"})

    assert response.status_code == 400
    assert "Write the title in the survey&#x27;s default language." in response.content.decode()
    assert not Survey.objects.exists()


def test_staff_start_from_the_servqual_template(staff_client: Client) -> None:
    response = staff_client.post(
        "/surveys/new/", {"template": "servqual", "default_language": "zh-hans"}
    )

    survey = Survey.objects.get()
    assert response.status_code == 302
    assert (survey.title, survey.translations["en"]["title"]) == (
        "服务质量评价",
        "Our service quality",
    )
    grid = survey.questions.get(kind="rating_grid")
    assert [
        (row.label, row.dimension.name if row.dimension else None) for row in grid.rows.all()
    ] == [
        ("我们的场所、设备和资料看起来专业", "Tangibles"),
        ("我们按时兑现承诺", "Reliability"),
        ("我们及时响应您的请求", "Responsiveness"),
        ("我们的员工专业可信", "Assurance"),
        ("我们给予您个性化的关怀", "Empathy"),
    ]


@pytest.mark.parametrize(
    ("key", "kinds"),
    [
        ("relationship_nps", ["nps", "text", "text"]),
        ("transactional_csat", ["csat", "text"]),
        ("ces", ["ces", "text"]),
        ("first_contact_resolution", ["yes_no", "csat", "text"]),
        ("servqual", ["rating_grid", "text"]),
        ("service_dimensions", ["rating_grid", "csat", "text"]),
    ],
)
def test_every_template_builds_its_questions(db: None, key: str, kinds: list[str]) -> None:
    survey = survey_create_from_template(key=key, created_by=None)

    assert list(survey.questions.values_list("kind", flat=True)) == kinds
    assert survey.status == Survey.Status.DRAFT


def test_templates_cover_fcr_follow_up_and_the_dimension_survey(db: None) -> None:
    nps = survey_create_from_template(key="relationship_nps", created_by=None)
    fcr = survey_create_from_template(key="first_contact_resolution", created_by=None)
    dimensions = survey_create_from_template(key="service_dimensions", created_by=None)

    follow_up = nps.questions.get(position=2)
    assert (follow_up.show_if_question, follow_up.show_if_min, follow_up.show_if_max) == (
        nps.questions.get(position=1),
        None,
        6,
    )
    assert fcr.questions.get(kind="yes_no").role == "fcr"
    grid = dimensions.questions.get(kind="rating_grid")
    assert [row.dimension.code for row in grid.rows.all() if row.dimension] == [
        "response-speed",
        "technical-ability",
        "emotional-value",
        "process-experience",
        "outcome-satisfaction",
    ]
    assert len(TEMPLATES) == 6


def test_dimensions_are_found_by_name_or_code_before_being_created(db: None) -> None:
    existing = Dimension.objects.create(code="outcome", name="Outcome satisfaction")

    assert dimension_get_or_create("outcome satisfaction") == existing
    assert dimension_get_or_create("outcome") == existing
    created = dimension_get_or_create("情感价值")
    assert created.name == "情感价值"
    assert created.code.startswith("dim-")
    assert dimension_get_or_create("情感价值") == created


def test_staff_add_a_csat_question_on_a_1_to_7_scale_through_the_page(
    staff_client: Client, staff: User
) -> None:
    survey = _survey(staff)

    response = staff_client.post(
        f"/surveys/{survey.pk}/questions/new/?kind=csat",
        {
            "kind": "csat",
            "text_en": "How satisfied are you?",
            "text_zh_hans": "您满意吗？",
            "is_required": "on",
            "scale": "1-7",
            "dimension": "Outcome satisfaction",
        },
    )

    question = survey.questions.get()
    assert response.status_code == 302
    assert (question.kind, question.scale, question.is_required) == ("csat", (1, 7), True)
    assert question.translations == {"zh-hans": {"text": "您满意吗？"}}
    assert question.dimension is not None
    assert question.dimension.name == "Outcome satisfaction"


def test_staff_add_a_grid_with_dimension_tagged_rows_through_the_page(
    staff_client: Client, staff: User
) -> None:
    survey = _survey(staff)

    staff_client.post(
        f"/surveys/{survey.pk}/questions/new/?kind=rating_grid",
        {
            "kind": "rating_grid",
            "text_en": "Rate us",
            "rows_en": "Speed\nSkill",
            "rows_zh_hans": "速度\n能力",
            "row_dimensions": "Response speed\nTechnical ability",
        },
    )

    rows = survey.questions.get().rows.all()
    assert [(row.label, row.translations, row.dimension.code) for row in rows if row.dimension] == [
        ("Speed", {"zh-hans": {"label": "速度"}}, "response-speed"),
        ("Skill", {"zh-hans": {"label": "能力"}}, "technical-ability"),
    ]


def test_a_choice_question_without_choices_is_refused_on_the_page(
    staff_client: Client, staff: User
) -> None:
    survey = _survey(staff)

    response = staff_client.post(
        f"/surveys/{survey.pk}/questions/new/?kind=single_choice",
        {"kind": "single_choice", "text_en": "Which one?", "choices_en": "Only one"},
    )

    assert response.status_code == 400
    assert "Give at least two choices." in response.content.decode()
    assert not survey.questions.exists()


# ---------------------------------------------------------------- validation


def test_a_grid_without_rows_is_refused(db: None) -> None:
    fields = _refused(_survey(None), QuestionSpec(kind="rating_grid", text={"en": "Rate"}))

    assert fields == {"rows_en": ["Give at least one row to rate."]}


def test_a_scale_other_than_the_allowed_ones_is_refused(db: None) -> None:
    survey = _survey(None)

    csat = _refused(survey, QuestionSpec(kind="csat", text={"en": "Sat?"}, scale=(1, 6)))
    nps = _refused(survey, QuestionSpec(kind="nps", text={"en": "Rec?"}, scale=(1, 10)))

    assert csat == {
        "scale": ["A Satisfaction (stars) question uses one of these scales: 1-5, 1-7, 1-10."]
    }
    assert nps == {
        "scale": ["A Net Promoter Score (0-10) question uses one of these scales: 0-10."]
    }


def test_a_condition_must_point_at_an_earlier_score_within_its_scale(db: None) -> None:
    survey = _survey(None)
    text = question_save(survey=survey, spec=QuestionSpec(kind="text", text={"en": "Why?"}))
    nps = question_save(survey=survey, spec=QuestionSpec(kind="nps", text={"en": "Rec?"}))

    on_text = _refused(
        survey,
        QuestionSpec(kind="text", text={"en": "More?"}, show_if_question=text.pk, show_if_max=6),
    )
    later = _refused(
        survey,
        QuestionSpec(kind="nps", text={"en": "Rec?"}, show_if_question=nps.pk, show_if_max=6),
        question=text,
    )
    out_of_scale = _refused(
        survey,
        QuestionSpec(kind="text", text={"en": "More?"}, show_if_question=nps.pk, show_if_max=11),
    )
    no_range = _refused(
        survey, QuestionSpec(kind="text", text={"en": "More?"}, show_if_question=nps.pk)
    )

    assert on_text == {
        "show_if_question": ["A follow-up can only depend on an NPS, satisfaction or effort score."]
    }
    assert later == {
        "show_if_question": ["A follow-up can only depend on a question that comes before it."]
    }
    assert out_of_scale == {"show_if_max": ["The score must be from 0 to 10."]}
    assert no_range == {"show_if_max": ["Give the lowest score, the highest score, or both."]}


def test_a_role_and_a_dimension_only_go_on_the_kinds_that_use_them(db: None) -> None:
    fields = _refused(
        _survey(None), QuestionSpec(kind="text", text={"en": "Why?"}, role="fcr", dimension="X")
    )

    assert fields == {
        "role": ["Only a yes/no question can have a role."],
        "dimension": [
            "Only an NPS, satisfaction or effort score can carry a dimension; "
            "tag grid rows instead."
        ],
    }


def test_question_text_in_the_default_language_is_required(db: None) -> None:
    fields = _refused(_survey(None), QuestionSpec(kind="nps", text={"zh-hans": "推荐吗？"}))

    assert fields == {"text_en": ["Write the question in the survey's default language."]}


# ---------------------------------------------------------------- answered questions


@pytest.fixture
def answered(db: None) -> Survey:
    survey = multi_kind_survey()
    response_submit(survey=survey, raw_answers=_raw(survey))
    return survey


def _raw(survey: Survey) -> dict[str, object]:
    from django.http import QueryDict

    from surveys.respond import raw_answers_from_post, survey_questions

    data = QueryDict(mutable=True)
    data.update(full_answers(survey, nps=3))
    return raw_answers_from_post(data, survey_questions(survey))


def test_an_answered_question_keeps_its_kind_scale_and_dimension(answered: Survey) -> None:
    csat = questions_by_kind(answered)["csat"]

    fields = _refused(
        answered,
        QuestionSpec(kind="csat", text={"en": "Sat?"}, scale=(1, 10), dimension="Other"),
        question=csat,
    )

    assert fields == {
        "scale": [
            "The scale cannot change: it already has answers, and they would change meaning."
        ],
        "dimension": [
            "The dimension cannot change: it already has answers, and they would change meaning."
        ],
    }
    csat.refresh_from_db()
    assert csat.scale == (1, 5)


def test_an_answered_question_can_have_its_text_changed(answered: Survey) -> None:
    csat = questions_by_kind(answered)["csat"]

    question_save(
        survey=answered,
        spec=QuestionSpec(
            kind="csat",
            text={"en": "How happy are you?", "zh-hans": "您开心吗？"},
            dimension="Outcome",
        ),
        question=csat,
    )

    csat.refresh_from_db()
    assert (csat.text, csat.translations) == (
        "How happy are you?",
        {"zh-hans": {"text": "您开心吗？"}},
    )


def test_answered_choices_and_rows_cannot_be_removed_or_retagged(answered: Survey) -> None:
    questions = questions_by_kind(answered)

    choices = _refused(
        answered,
        QuestionSpec(kind="single_choice", text={"en": "Channel?"}, options=[]),
        question=questions["single_choice"],
    )
    rows = _refused(
        answered,
        QuestionSpec(
            kind="rating_grid",
            text={"en": "Rate"},
            options=[
                OptionSpec({"en": "Speed"}, "Response speed"),
                OptionSpec({"en": "Kind"}, "X"),
            ],
        ),
        question=questions["rating_grid"],
    )

    assert choices == {
        "choices_en": [
            "Give at least two choices.",
            "Choice 1 already has answers: it cannot be removed.",
        ]
    }
    assert rows == {"row_dimensions": ["Row 2 already has answers: its dimension cannot change."]}


def test_an_answered_question_cannot_be_deleted_from_the_page(
    staff_client: Client, answered: Survey
) -> None:
    csat = questions_by_kind(answered)["csat"]

    response = staff_client.post(f"/surveys/{answered.pk}/questions/{csat.pk}/delete/", follow=True)

    assert "This question already has answers: it cannot be deleted." in response.content.decode()
    assert Question.objects.filter(pk=csat.pk).exists()


def test_the_edit_page_says_what_can_change_once_answered(
    staff_client: Client, answered: Survey
) -> None:
    csat = questions_by_kind(answered)["csat"]

    page = staff_client.get(f"/surveys/{answered.pk}/questions/{csat.pk}/").content.decode()

    assert "This question already has answers: you can change its text" in page


def test_adding_a_question_to_an_answered_survey_is_allowed(answered: Survey) -> None:
    question = question_save(survey=answered, spec=QuestionSpec(kind="text", text={"en": "P.S.?"}))

    assert question.position == 9
    assert Response.objects.count() == 1


# ---------------------------------------------------------------- order


def test_staff_move_a_question_up(staff_client: Client, staff: User) -> None:
    survey = multi_kind_survey(staff)
    ces = questions_by_kind(survey)["ces"]

    staff_client.post(f"/surveys/{survey.pk}/questions/{ces.pk}/move/", {"direction": "up"})

    assert list(survey.questions.values_list("kind", flat=True)) == [
        "nps",
        "text",
        "ces",
        "csat",
        "yes_no",
        "rating_grid",
        "single_choice",
        "text",
    ]


def test_a_follow_up_cannot_move_above_its_trigger(db: None) -> None:
    survey = multi_kind_survey()
    follow_up = questions_by_kind(survey)["follow_up"]

    with pytest.raises(ApplicationError) as error:
        question_move(question=follow_up, direction="up")

    assert error.value.message == "A follow-up must stay after the question it depends on."
    assert follow_up.position == 2


# ---------------------------------------------------------------- settings, translations, preview


def test_switching_the_default_language_moves_the_text(db: None) -> None:
    survey = multi_kind_survey()

    survey_update(
        survey=survey,
        values=SurveySettings(
            title={"en": "Service check", "zh-hans": "服务回访"}, default_language="zh-hans"
        ),
    )

    nps = questions_by_kind(survey)["nps"]
    csat = questions_by_kind(survey)["csat"]
    survey.refresh_from_db()
    assert (survey.title, survey.translations) == ("服务回访", {"en": {"title": "Service check"}})
    assert (nps.text, nps.translations) == (
        "您会推荐我们吗？",
        {"en": {"text": "Would you recommend us?"}},
    )
    # No Chinese text: the English one stays the text in every language.
    assert (csat.text, csat.translations) == (
        "How satisfied are you?",
        {"en": {"text": "How satisfied are you?"}},
    )


def test_settings_page_refuses_an_unreadable_brand_colour_and_a_fake_logo(
    staff_client: Client, staff: User
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    survey = multi_kind_survey(staff)

    response = staff_client.post(
        f"/surveys/{survey.pk}/edit/",
        {
            "title_en": "Service check",
            "default_language": "en",
            "brand_color": "#808080",
            "logo": SimpleUploadedFile("logo.png", b"<svg onload=alert(1)>", "image/png"),
            "retention_days": "0",
        },
    )

    page = response.content.decode()
    assert response.status_code == 400
    assert "Text on #808080 would be hard to read (contrast 3.9:1, needs 4.5:1)." in page
    assert "The logo must be a PNG, JPEG, WebP or GIF image." in page
    assert "Keep responses from 1 to 3650 days, or leave it empty." in page
    survey.refresh_from_db()
    assert (survey.brand_color, survey.retention_days) == ("", None)


def test_settings_page_saves_translations_privacy_and_retention(
    staff_client: Client, staff: User
) -> None:
    survey = multi_kind_survey(staff)

    response = staff_client.post(
        f"/surveys/{survey.pk}/edit/",
        {
            "title_en": "Service check",
            "title_zh_hans": "服务检查",
            "thank_you_message_zh_hans": "谢谢！",
            "default_language": "en",
            "is_anonymous": "on",
            "retention_days": "365",
            "brand_color": "#1f5fbf",
            "embed_origins": "https://shop.example.com/\n",
        },
    )

    survey.refresh_from_db()
    assert response.status_code == 302
    assert survey.translations == {"zh-hans": {"title": "服务检查", "thank_you_message": "谢谢！"}}
    assert (survey.is_anonymous, survey.stores_client_details, survey.retention_days) == (
        True,
        False,
        365,
    )
    assert (survey.brand_color, survey.embed_origins) == ("#1f5fbf", ["https://shop.example.com"])


def test_preview_shows_the_draft_as_respondents_see_it_and_stores_nothing(
    staff_client: Client, staff: User
) -> None:
    survey = multi_kind_survey(staff)
    Survey.objects.filter(pk=survey.pk).update(status=Survey.Status.DRAFT)

    page = staff_client.get(f"/surveys/{survey.pk}/preview/?lang=zh-hans")
    invalid = staff_client.post(f"/surveys/{survey.pk}/preview/", {})
    valid = staff_client.post(f"/surveys/{survey.pk}/preview/", full_answers(survey))

    assert page.status_code == 200
    assert "<h1>服务回访</h1>" in page.content.decode()
    assert invalid.status_code == 400
    assert invalid.content.decode().count("This question needs an answer.") == 6
    assert "These answers would be accepted. Nothing was stored." in valid.content.decode()
    assert not Response.objects.exists()


BUILDER_PAGES = [
    ("/surveys/new/", "SERVQUAL"),
    ("/surveys/{pk}/", "Add a question:"),
    ("/surveys/{pk}/edit/", "Sites that may embed the survey"),
    ("/surveys/{pk}/questions/new/", "Which kind of question?"),
    ("/surveys/{pk}/questions/new/?kind=rating_grid", "Row dimensions, one per line"),
    ("/surveys/{pk}/questions/new/?kind=csat", "Scale"),
    ("/surveys/{pk}/preview/", "Preview: this is what respondents see."),
    ("/surveys/phone/", "Customer external id"),
]


def test_staff_builder_pages_render(staff_client: Client) -> None:
    survey = multi_kind_survey()

    pages = {path: staff_client.get(path.format(pk=survey.pk)) for path, _text in BUILDER_PAGES}

    assert {path: page.status_code for path, page in pages.items()} == {
        path: 200 for path, _text in BUILDER_PAGES
    }
    for path, text in BUILDER_PAGES:
        assert text in pages[path].content.decode(), path


@pytest.mark.parametrize(
    ("low", "high", "english", "chinese"),
    [
        (None, 6, "shown when question 1 is 6 or less", "当第 1 题的答案为 6 分或以下时显示"),
        (0, 6, "shown when question 1 is 6 or less", "当第 1 题的答案为 6 分或以下时显示"),
        (9, None, "shown when question 1 is 9 or more", "当第 1 题的答案为 9 分或以上时显示"),
        (9, 10, "shown when question 1 is 9 or more", "当第 1 题的答案为 9 分或以上时显示"),
        (3, 5, "shown when question 1 is between 3 and 5", "当第 1 题的答案在 3 至 5 分之间时显示"),
        (6, 6, "shown when question 1 is 6", "当第 1 题的答案为 6 分时显示"),
        (0, 10, "shown when question 1 is answered", "当第 1 题已作答时显示"),
    ],
)
def test_survey_page_says_when_a_follow_up_is_shown_in_plain_words(
    staff_client: Client,
    low: int | None,
    high: int | None,
    english: str,
    chinese: str,
) -> None:
    # given an NPS question 1 and a follow-up shown for some of its scores
    survey = _survey(None)
    nps = question_save(survey=survey, spec=QuestionSpec(kind="nps", text={"en": "Rec?"}))
    spec = QuestionSpec(
        kind="text",
        text={"en": "What could we do better?"},
        is_required=False,
        show_if_question=nps.pk,
        show_if_min=low,
        show_if_max=high,
    )
    question_save(survey=survey, spec=spec)

    def caption(language: str) -> str:
        page = staff_client.get(f"/surveys/{survey.pk}/", HTTP_ACCEPT_LANGUAGE=language)
        found = re.search(r'data-testid="condition-2">([^<]*)</span>', page.content.decode())
        assert found is not None
        return found.group(1)

    # then the builder's caption reads naturally, in both languages
    assert caption("en") == english
    assert caption("zh-CN,zh;q=0.9") == chinese
