# ruff: noqa: RUF001
"""A survey with every kind of question, built through the builder's services."""

from __future__ import annotations

from accounts.models import User
from surveys.builder import OptionSpec, QuestionSpec, SurveySettings, question_save, survey_create
from surveys.models import Customer, Question, Survey


def _t(en: str, zh: str = "") -> dict[str, str]:
    return {"en": en, "zh-hans": zh}


def multi_kind_survey(author: User | None = None, **settings: object) -> Survey:
    """NPS, a follow-up when NPS <= 6, CSAT stars, CES, FCR yes/no, a grid, a choice and text."""
    survey = survey_create(
        values=SurveySettings(
            title=_t("Service check", "服务回访"),
            introduction=_t("Two minutes, thank you.", "两分钟，谢谢。"),
            thank_you_message=_t("Thanks a lot!", "非常感谢！"),
            **settings,  # type: ignore[arg-type]
        ),
        created_by=author,
    )
    nps = question_save(
        survey=survey,
        spec=QuestionSpec(kind="nps", text=_t("Would you recommend us?", "您会推荐我们吗？")),
    )
    question_save(
        survey=survey,
        spec=QuestionSpec(
            kind="text",
            text=_t("What could we do better?", "我们可以如何改进？"),
            show_if_question=nps.pk,
            show_if_max=6,
        ),
    )
    question_save(
        survey=survey,
        spec=QuestionSpec(kind="csat", text=_t("How satisfied are you?"), dimension="Outcome"),
    )
    question_save(survey=survey, spec=QuestionSpec(kind="ces", text=_t("How easy was it?")))
    question_save(
        survey=survey,
        spec=QuestionSpec(kind="yes_no", role="fcr", text=_t("Solved on first contact?")),
    )
    question_save(
        survey=survey,
        spec=QuestionSpec(
            kind="rating_grid",
            text=_t("Rate our staff"),
            options=[
                OptionSpec(_t("Speed", "速度"), "Response speed"),
                OptionSpec(_t("Kindness", "亲切"), "Empathy"),
            ],
        ),
    )
    question_save(
        survey=survey,
        spec=QuestionSpec(
            kind="single_choice",
            text=_t("Which channel did you use?"),
            options=[OptionSpec(_t("Phone", "电话")), OptionSpec(_t("Chat", "在线"))],
        ),
    )
    question_save(
        survey=survey,
        spec=QuestionSpec(kind="text", text=_t("Anything else?"), is_required=False),
    )
    survey.status = Survey.Status.OPEN
    survey.save(update_fields=["status"])
    return survey


def questions_by_kind(survey: Survey) -> dict[str, Question]:
    """The first question of each kind; "follow_up" for the conditional text question."""
    found: dict[str, Question] = {}
    for question in survey.questions.order_by("position"):
        key = "follow_up" if question.show_if_question_id else question.kind
        found.setdefault(key, question)
    return found


def full_answers(survey: Survey, nps: int = 4) -> dict[str, str]:
    """A complete posted form for `multi_kind_survey` (field name -> value)."""
    questions = questions_by_kind(survey)
    grid = questions["rating_grid"]
    rows = list(grid.rows.order_by("position"))
    choice = questions["single_choice"].choices.order_by("position").first()
    assert choice is not None
    data = {
        f"q{questions['nps'].pk}": str(nps),
        f"q{questions['csat'].pk}": "4",
        f"q{questions['ces'].pk}": "6",
        f"q{questions['yes_no'].pk}": "yes",
        f"q{grid.pk}_r{rows[0].pk}": "5",
        f"q{grid.pk}_r{rows[1].pk}": "3",
        f"q{questions['single_choice'].pk}": str(choice.pk),
    }
    if nps <= 6:
        data[f"q{questions['follow_up'].pk}"] = "Call back sooner"
    return data


def customer(external_id: str = "C-1", language: str = "en") -> Customer:
    return Customer.objects.create(external_id=external_id, name="Li Lei", language=language)
