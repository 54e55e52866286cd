"""What a respondent sees: the language a page speaks, survey text in that language with a
per-string fallback, and the questions as ready-to-render views (shared by the public link,
personal links, the embed, the phone page and the builder's preview)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.http import HttpRequest, QueryDict
from django.utils.translation import get_language, get_supported_language_variant
from django.utils.translation import gettext as _
from django.utils.translation.trans_real import parse_accept_lang_header

from surveys.models import Choice, GridRow, Question, Response, Survey

LANGUAGE_CODES: tuple[str, ...] = tuple(code for code, _name in settings.LANGUAGES)


def language_supported(code: str | None) -> str | None:
    """The site language that serves `code` (zh-CN -> zh-hans, en-GB -> en), or None."""
    if not code:
        return None
    try:
        return get_supported_language_variant(code.strip().lower())
    except LookupError:
        return None


def language_pick(survey: Survey, *, invited: str | None = None, accept: str = "") -> str:
    """The language of a respondent page: the invitation's language, then the browser's
    (Accept-Language, in the order of its q-values), then the survey's default language."""
    chosen = language_supported(invited)
    if chosen:
        return chosen
    for code, _quality in parse_accept_lang_header(accept or ""):
        if code == "*":
            continue
        chosen = language_supported(code)
        if chosen:
            return chosen
    return language_supported(survey.default_language) or settings.LANGUAGE_CODE


def language_for_request(request: HttpRequest, survey: Survey, invited: str | None = None) -> str:
    """`language_pick` for a request."""
    return language_pick(survey, invited=invited, accept=request.headers.get("Accept-Language", ""))


def text_in(
    obj: Survey | Question | Choice | GridRow, field_name: str, language: str, default: str
) -> str:
    """One survey string in `language`; the default language's text when it has none."""
    base = str(getattr(obj, field_name) or "")
    if language == default:
        return base
    translated = (obj.translations or {}).get(language, {}).get(field_name, "")
    return str(translated).strip() or base


def survey_title_for(survey: Survey, language: str | None = None) -> str:
    """The title in `language` (default: the active one, a staff reader's) or the default."""
    return text_in(survey, "title", language or get_language() or "", survey.default_language)


@dataclass
class SurveyText:
    title: str
    introduction: str
    thank_you_message: str


def survey_text(survey: Survey, language: str) -> SurveyText:
    """The survey's title, introduction and thank-you message in `language`."""
    default = survey.default_language
    return SurveyText(
        title=text_in(survey, "title", language, default),
        introduction=text_in(survey, "introduction", language, default),
        thank_you_message=text_in(survey, "thank_you_message", language, default),
    )


@dataclass
class OptionView:
    pk: int
    label: str
    checked: bool = False


@dataclass
class RowView:
    pk: int
    label: str
    name: str
    value: str = ""


@dataclass
class QuestionView:
    question: Question
    text: str
    help_text: str
    name: str
    value: str = ""
    points: list[str] = field(default_factory=list)
    low_label: str = ""
    high_label: str = ""
    choices: list[OptionView] = field(default_factory=list)
    rows: list[RowView] = field(default_factory=list)
    condition: str = ""
    error: str = ""

    @property
    def pk(self) -> int:
        return self.question.pk

    @property
    def kind(self) -> str:
        return self.question.kind

    @property
    def is_stars(self) -> bool:
        return self.question.kind == Question.Kind.CSAT

    @property
    def highest(self) -> str:
        return self.points[-1] if self.points else ""


def _scale_labels(question: Question) -> tuple[str, str]:
    low, high = question.scale or (0, 0)
    if question.kind == Question.Kind.NPS:
        return _("%(low)s = not at all likely") % {"low": low}, _("%(high)s = extremely likely") % {
            "high": high
        }
    if question.kind == Question.Kind.CES:
        return _("%(low)s = very difficult") % {"low": low}, _("%(high)s = very easy") % {
            "high": high
        }
    return _("%(low)s = very poor") % {"low": low}, _("%(high)s = excellent") % {"high": high}


def _condition_text(
    question: Question, triggers: Mapping[int, str], scales: Mapping[int, tuple[int, int] | None]
) -> str:
    """Without JavaScript every question is on the page: say when a follow-up applies."""
    if question.show_if_question_id is None:
        return ""
    values = {"question": triggers.get(question.show_if_question_id, "")}
    low, high = question.show_if_min, question.show_if_max
    # A bound at the end of the trigger's scale says nothing: "0 to 6" reads "6 or less".
    lowest, highest = scales.get(question.show_if_question_id) or (None, None)
    low = None if low == lowest else low
    high = None if high == highest else high
    if low is None and high is None:
        return _("Answer if you answered “%(question)s”.") % values
    if low is not None and high is not None and low == high:
        values["score"] = str(low)
        return _("Answer only if you chose %(score)s for “%(question)s”.") % values
    if low is not None and high is not None:
        values.update(low=str(low), high=str(high))
        return _("Answer only if you chose %(low)s to %(high)s for “%(question)s”.") % values
    if high is not None:
        values["score"] = str(high)
        return _("Answer only if you chose %(score)s or less for “%(question)s”.") % values
    values["score"] = str(low)
    return _("Answer only if you chose %(score)s or more for “%(question)s”.") % values


def question_views(
    questions: Sequence[Question],
    survey: Survey,
    language: str,
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
) -> list[QuestionView]:
    """The questions as the respondent sees them, in `language`, with the given answers
    (as posted: see `raw_answers_from_post`) and errors filled in."""
    values = values or {}
    errors = errors or {}
    default = survey.default_language
    texts = {question.pk: text_in(question, "text", language, default) for question in questions}
    scales = {question.pk: question.scale for question in questions}
    views = []
    for question in questions:
        key = str(question.pk)
        raw = values.get(key)
        view = QuestionView(
            question=question,
            text=texts[question.pk],
            help_text=text_in(question, "help_text", language, default),
            name=f"q{question.pk}",
            condition=_condition_text(question, texts, scales),
            error=errors.get(key, ""),
        )
        kind = question.kind
        if kind in (Question.Kind.NPS, Question.Kind.CSAT, Question.Kind.CES):
            view.points = [str(point) for point in question.scale_points]
            view.low_label, view.high_label = _scale_labels(question)
            view.value = str(raw) if isinstance(raw, str | int) else ""
        elif kind in (Question.Kind.YES_NO, Question.Kind.TEXT, Question.Kind.SINGLE_CHOICE):
            view.value = str(raw) if isinstance(raw, str | int) else ""
        if kind in (Question.Kind.SINGLE_CHOICE, Question.Kind.MULTIPLE_CHOICE):
            chosen = {str(item) for item in raw} if isinstance(raw, list | tuple) else {str(raw)}
            view.choices = [
                OptionView(
                    choice.pk,
                    text_in(choice, "label", language, default),
                    str(choice.pk) in chosen,
                )
                for choice in question.choices.all()
            ]
        if kind == Question.Kind.RATING_GRID:
            view.points = [str(point) for point in question.scale_points]
            view.low_label, view.high_label = _scale_labels(question)
            scores = raw if isinstance(raw, Mapping) else {}
            view.rows = [
                RowView(
                    row.pk,
                    text_in(row, "label", language, default),
                    f"q{question.pk}_r{row.pk}",
                    str(scores.get(str(row.pk), "") or ""),
                )
                for row in question.rows.all()
            ]
        views.append(view)
    return views


def survey_questions(survey: Survey) -> list[Question]:
    """The survey's questions in order, with their choices and rows."""
    return list(survey.questions.prefetch_related("choices", "rows").order_by("position"))


# A form's retry key (the hidden `submission_key` of the web, QR, embed and phone forms) is
# stored under this prefix, apart from the API's ("api:<user>:<Idempotency-Key>"): a posted
# key can never name another client's API response.
FORM_KEY_PREFIX = "form:"


def form_submission_key(post: QueryDict) -> str | None:
    """The stored retry key of a posted form, or None when it has none."""
    posted = post.get("submission_key", "")
    if not posted:
        return None
    return (FORM_KEY_PREFIX + posted)[: Response._meta.get_field("submission_key").max_length]


def raw_answers_from_post(data: QueryDict, questions: Sequence[Question]) -> dict[str, Any]:
    """The answers of a posted respondent form, keyed by question id, as
    services.answers_validate takes them."""
    raw: dict[str, Any] = {}
    for question in questions:
        name = f"q{question.pk}"
        if question.kind == Question.Kind.MULTIPLE_CHOICE:
            raw[str(question.pk)] = data.getlist(name)
        elif question.kind == Question.Kind.RATING_GRID:
            raw[str(question.pk)] = {
                str(row.pk): data.get(f"{name}_r{row.pk}", "") for row in question.rows.all()
            }
        else:
            raw[str(question.pk)] = data.get(name, "")
    return raw


def raw_answers_from_response(response: Response) -> dict[str, Any]:
    """A stored (e.g. partial) response's answers in the posted-form shape, to pre-fill a
    resumed form."""
    raw: dict[str, Any] = {}
    for answer in response.answers.select_related("question").order_by("pk"):
        key = str(answer.question_id)
        kind = answer.question.kind
        if kind == Question.Kind.RATING_GRID:
            raw.setdefault(key, {})[str(answer.grid_row_id)] = str(answer.number)
        elif kind == Question.Kind.MULTIPLE_CHOICE:
            raw.setdefault(key, []).append(str(answer.choice_id))
        elif kind == Question.Kind.SINGLE_CHOICE:
            raw[key] = str(answer.choice_id)
        elif kind == Question.Kind.YES_NO:
            raw[key] = "yes" if answer.number == 1 else "no"
        elif kind == Question.Kind.TEXT:
            raw[key] = answer.text
        else:
            raw[key] = str(answer.number)
    return raw
