# ruff: noqa: RUF001 (Chinese text uses full-width punctuation)
"""Survey templates staff can start from, in English and Simplified Chinese. Each one is built
through the builder's services, so a template is held to the same rules as a hand-made survey;
its dimensions are created on first use."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from csat.errors import ApplicationError
from surveys.builder import OptionSpec, QuestionSpec, SurveySettings, question_save, survey_create
from surveys.models import Question, Survey


@dataclass(frozen=True)
class Template:
    key: str
    name: object  # a lazy translation
    description: object
    title: dict[str, str]
    introduction: dict[str, str]
    questions: tuple[QuestionSpec, ...]
    # Index (in `questions`) of the question a follow-up depends on, per follow-up index.
    follow_ups: tuple[tuple[int, int], ...] = ()


def _t(en: str, zh: str) -> dict[str, str]:
    return {"en": en, "zh-hans": zh}


def _row(en: str, zh: str, dimension: str) -> OptionSpec:
    return OptionSpec(label=_t(en, zh), dimension=dimension)


WHY = QuestionSpec(
    kind=Question.Kind.TEXT,
    text=_t("What is the main reason for your score?", "您给出这个评分的主要原因是什么？"),
    is_required=False,
)
ANYTHING_ELSE = QuestionSpec(
    kind=Question.Kind.TEXT,
    text=_t("Is there anything else you would like to tell us?", "还有其他想告诉我们的吗？"),
    is_required=False,
)
INTRO = _t(
    "It takes about one minute. Thank you for helping us improve.",
    "大约需要一分钟。感谢您帮助我们改进。",
)

TEMPLATES: dict[str, Template] = {
    template.key: template
    for template in (
        Template(
            key="relationship_nps",
            name=gettext_lazy("Relationship NPS"),
            description=gettext_lazy(
                "How likely customers are to recommend you, with a follow-up for detractors."
            ),
            title=_t("How are we doing?", "您对我们的整体评价"),
            introduction=INTRO,
            questions=(
                QuestionSpec(
                    kind=Question.Kind.NPS,
                    text=_t(
                        "How likely are you to recommend us to a friend or colleague?",
                        "您有多大可能向朋友或同事推荐我们？",
                    ),
                ),
                QuestionSpec(
                    kind=Question.Kind.TEXT,
                    text=_t("What could we do better?", "我们可以在哪些方面做得更好？"),
                    show_if_max=6,
                ),
                ANYTHING_ELSE,
            ),
            follow_ups=((1, 0),),
        ),
        Template(
            key="transactional_csat",
            name=gettext_lazy("Transactional CSAT"),
            description=gettext_lazy("Satisfaction with one recent interaction, in stars."),
            title=_t("How was your recent experience?", "您对本次服务满意吗？"),
            introduction=INTRO,
            questions=(
                QuestionSpec(
                    kind=Question.Kind.CSAT,
                    text=_t(
                        "How satisfied are you with your recent experience?",
                        "您对本次服务体验的满意程度如何？",
                    ),
                ),
                WHY,
            ),
        ),
        Template(
            key="ces",
            name=gettext_lazy("Customer effort (CES)"),
            description=gettext_lazy("How easy it was to get things done (1-7)."),
            title=_t("How easy was it?", "办理是否省心？"),
            introduction=INTRO,
            questions=(
                QuestionSpec(
                    kind=Question.Kind.CES,
                    text=_t(
                        "How easy was it to get your request handled?",
                        "处理您的请求有多容易？",
                    ),
                ),
                WHY,
            ),
        ),
        Template(
            key="first_contact_resolution",
            name=gettext_lazy("First-contact resolution after support"),
            description=gettext_lazy(
                "Whether the issue was resolved on first contact, and satisfaction with support."
            ),
            title=_t("Your support request", "您的服务请求"),
            introduction=INTRO,
            questions=(
                QuestionSpec(
                    kind=Question.Kind.YES_NO,
                    role=Question.Role.FCR,
                    text=_t(
                        "Was your issue resolved on your first contact with us?",
                        "您的问题是否在首次联系时就得到了解决？",
                    ),
                ),
                QuestionSpec(
                    kind=Question.Kind.CSAT,
                    text=_t(
                        "How satisfied are you with the support you received?",
                        "您对获得的支持服务满意吗？",
                    ),
                ),
                WHY,
            ),
        ),
        Template(
            key="servqual",
            name=gettext_lazy("SERVQUAL"),
            description=gettext_lazy(
                "Service quality on five dimensions: tangibles, reliability, responsiveness, "
                "assurance, empathy."
            ),
            title=_t("Our service quality", "服务质量评价"),
            introduction=INTRO,
            questions=(
                QuestionSpec(
                    kind=Question.Kind.RATING_GRID,
                    text=_t(
                        "How much do you agree with each statement? (1 = not at all, "
                        "5 = completely)",
                        "您在多大程度上同意以下说法？（1 = 完全不同意，5 = 完全同意）",
                    ),
                    options=(
                        _row(
                            "Our premises, equipment and materials look professional",
                            "我们的场所、设备和资料看起来专业",
                            "Tangibles",
                        ),
                        _row(
                            "We deliver what we promise, when we promise it",
                            "我们按时兑现承诺",
                            "Reliability",
                        ),
                        _row(
                            "We respond to your requests promptly",
                            "我们及时响应您的请求",
                            "Responsiveness",
                        ),
                        _row(
                            "Our staff are knowledgeable and inspire trust",
                            "我们的员工专业可信",
                            "Assurance",
                        ),
                        _row(
                            "We give you individual, caring attention",
                            "我们给予您个性化的关怀",
                            "Empathy",
                        ),
                    ),
                ),
                ANYTHING_ELSE,
            ),
        ),
        Template(
            key="service_dimensions",
            name=gettext_lazy("Service dimensions"),
            description=gettext_lazy(
                "Response speed, technical ability, emotional value, process experience and "
                "outcome, for the weighted composite index."
            ),
            title=_t("Rate our service", "请为我们的服务打分"),
            introduction=INTRO,
            questions=(
                QuestionSpec(
                    kind=Question.Kind.RATING_GRID,
                    text=_t(
                        "How would you rate each part of our service?",
                        "您如何评价我们服务的各个方面？",
                    ),
                    options=(
                        _row("Speed of our response", "响应速度", "Response speed"),
                        _row(
                            "Technical ability of our staff", "员工的专业能力", "Technical ability"
                        ),
                        _row(
                            "How our staff made you feel", "员工给您的情感关怀", "Emotional value"
                        ),
                        _row("How smooth the process was", "流程是否顺畅", "Process experience"),
                        _row("The outcome you got", "最终结果", "Outcome satisfaction"),
                    ),
                ),
                QuestionSpec(
                    kind=Question.Kind.CSAT,
                    text=_t("Overall, how satisfied are you?", "总体而言，您满意吗？"),
                ),
                WHY,
            ),
        ),
    )
}


@transaction.atomic
def survey_create_from_template(
    *, key: str, created_by: User | None = None, default_language: str = "en"
) -> Survey:
    """A new draft survey with the template's questions, in both languages."""
    template = TEMPLATES.get(key)
    if template is None:
        raise ApplicationError(
            _("Unknown template."), {"template": [_("Choose one of the listed templates.")]}
        )
    survey = survey_create(
        values=SurveySettings(
            title=template.title,
            introduction=template.introduction,
            default_language=default_language,
        ),
        created_by=created_by,
    )
    triggers = dict(template.follow_ups)
    created: list[Question] = []
    for index, spec in enumerate(template.questions):
        if index in triggers:
            spec = QuestionSpec(
                **{**spec.__dict__, "show_if_question": created[triggers[index]].pk}
            )
        created.append(question_save(survey=survey, spec=spec))
    return survey
