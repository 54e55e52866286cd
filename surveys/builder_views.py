"""Staff pages of the survey builder: new survey (blank or from a template), settings,
questions (add, edit, reorder, delete) and the preview."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from csat.errors import ApplicationError
from surveys import builder, services
from surveys.forms import QuestionForm, SurveyNewForm, SurveySettingsForm
from surveys.models import Question, Survey
from surveys.respond import language_supported, raw_answers_from_post, survey_questions
from surveys.respond_views import render_form
from surveys.templates_library import TEMPLATES, survey_create_from_template

PREVIEW_LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]


def _put_errors(form: forms.Form, error: ApplicationError) -> None:
    """The service's per-field problems, on the form's fields (others at the top)."""
    for name, problems in error.fields.items():
        for problem in problems:
            form.add_error(name if name in form.fields else None, problem)
    if not error.fields:
        form.add_error(None, error.message)


@permission_required("surveys.add_survey", raise_exception=True)
@require_http_methods(["GET", "POST"])
def survey_new(request: HttpRequest) -> HttpResponse:
    form = SurveyNewForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if data["template"]:
                survey = survey_create_from_template(
                    key=data["template"],
                    created_by=request.user,
                    default_language=data["default_language"],
                )
            else:
                survey = builder.survey_create(
                    values=builder.SurveySettings(
                        title={
                            code: data.get(builder.field_name("title", code)) or ""
                            for code in builder.LANGUAGE_CODES
                        },
                        default_language=data["default_language"],
                    ),
                    created_by=request.user,
                )
        except ApplicationError as error:
            _put_errors(form, error)
        else:
            messages.success(
                request, _("Draft created. Add or adjust questions, preview, then open it.")
            )
            return redirect("surveys:detail", pk=survey.pk)
    status = 400 if form.errors else 200
    context = {"form": form, "templates": TEMPLATES.values()}
    return render(request, "surveys/survey_new.html", context, status=status)


@permission_required("surveys.change_survey", raise_exception=True)
@require_http_methods(["GET", "POST"])
def survey_edit(request: HttpRequest, pk: int) -> HttpResponse:
    survey = get_object_or_404(Survey, pk=pk)
    form = SurveySettingsForm(
        request.POST or None,
        request.FILES or None,
        initial=SurveySettingsForm.initial_for(survey),
    )
    if request.method == "POST" and form.is_valid():
        try:
            builder.survey_update(survey=survey, values=form.to_settings())
        except ApplicationError as error:
            _put_errors(form, error)
        else:
            messages.success(request, _("Survey settings saved."))
            return redirect("surveys:detail", pk=survey.pk)
    status = 400 if form.errors else 200
    return render(
        request, "surveys/survey_edit.html", {"survey": survey, "form": form}, status=status
    )


def _triggers(survey: Survey, before: int | None) -> list[tuple[int, str]]:
    questions = survey.questions.filter(kind__in=builder.TRIGGER_KINDS)
    if before is not None:
        questions = questions.filter(position__lt=before)
    return [(question.pk, f"{question.position}. {question.text}") for question in questions]


def _question_page(
    request: HttpRequest, survey: Survey, question: Question | None, kind: str
) -> HttpResponse:
    initial: dict[str, Any] = (
        QuestionForm.initial_for(question) if question else {"kind": kind, "is_required": True}
    )
    form = QuestionForm(
        request.POST or None,
        initial=initial,
        triggers=_triggers(survey, question.position if question else None),
    )
    if request.method == "POST" and form.is_valid():
        try:
            builder.question_save(survey=survey, spec=form.to_spec(), question=question)
        except ApplicationError as error:
            _put_errors(form, error)
        else:
            messages.success(request, _("Question saved."))
            return redirect("surveys:detail", pk=survey.pk)
    shown_kind = (question.kind if question else None) or form["kind"].value() or kind
    context = {
        "survey": survey,
        "question": question,
        "form": form,
        "kind": shown_kind,
        "skip": _hidden_fields(shown_kind),
        "kind_label": Question.Kind(shown_kind).label
        if shown_kind in Question.Kind.values
        else shown_kind,
        "answered": builder.question_has_answers(question) if question else False,
    }
    status = 400 if form.errors else 200
    return render(request, "surveys/question_form.html", context, status=status)


def _hidden_fields(kind: str) -> set[str]:
    """The question form's fields that do not apply to this kind of question."""
    hidden = {"kind"}  # fixed: chosen from the list of kinds, shown as text
    if kind not in (Question.Kind.CSAT, Question.Kind.RATING_GRID):
        hidden.add("scale")
    if kind != Question.Kind.YES_NO:
        hidden.add("role")
    if kind not in builder.DIMENSION_KINDS:
        hidden.add("dimension")
    for code in builder.LANGUAGE_CODES:
        if kind not in builder.CHOICE_KINDS:
            hidden.add(builder.field_name("choices", code))
        if kind != Question.Kind.RATING_GRID:
            hidden.add(builder.field_name("rows", code))
    if kind != Question.Kind.RATING_GRID:
        hidden.add("row_dimensions")
    return hidden


@permission_required("surveys.change_survey", raise_exception=True)
@require_http_methods(["GET", "POST"])
def question_new(request: HttpRequest, pk: int) -> HttpResponse:
    survey = get_object_or_404(Survey, pk=pk)
    kind = request.GET.get("kind", "")
    if request.method == "GET" and kind not in Question.Kind.values:
        return render(
            request, "surveys/question_kinds.html", {"survey": survey, "kinds": Question.Kind}
        )
    return _question_page(request, survey, None, kind)


@permission_required("surveys.change_survey", raise_exception=True)
@require_http_methods(["GET", "POST"])
def question_edit(request: HttpRequest, pk: int, question_pk: int) -> HttpResponse:
    survey = get_object_or_404(Survey, pk=pk)
    question = get_object_or_404(Question, pk=question_pk, survey=survey)
    return _question_page(request, survey, question, question.kind)


@permission_required("surveys.change_survey", raise_exception=True)
@require_POST
def question_move(request: HttpRequest, pk: int, question_pk: int) -> HttpResponse:
    question = get_object_or_404(Question, pk=question_pk, survey_id=pk)
    try:
        builder.question_move(question=question, direction=request.POST.get("direction", ""))
    except ApplicationError as error:
        messages.error(request, error.message)
    return redirect("surveys:detail", pk=pk)


@permission_required("surveys.change_survey", raise_exception=True)
@require_POST
def question_delete(request: HttpRequest, pk: int, question_pk: int) -> HttpResponse:
    question = get_object_or_404(Question, pk=question_pk, survey_id=pk)
    try:
        builder.question_delete(question=question)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Question deleted."))
    return redirect("surveys:detail", pk=pk)


@permission_required("surveys.view_survey", raise_exception=True)
@require_http_methods(["GET", "POST"])
def survey_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """The respondent's page for any status; a submission is only checked, never stored."""
    survey = get_object_or_404(Survey, pk=pk)
    language = (
        language_supported(request.GET.get("lang"))
        or language_supported(survey.default_language)
        or "en"
    )
    extra = {
        "preview": True,
        "preview_languages": [(code, name_local) for code, name_local in PREVIEW_LANGUAGES],
    }
    if request.method != "POST":
        return render_form(request, survey, language=language, extra=extra)
    raw = raw_answers_from_post(request.POST, survey_questions(survey))
    try:
        services.answers_validate(survey, raw)
    except ApplicationError as error:
        return render_form(request, survey, language=language, values=raw, error=error, extra=extra)
    return render_form(
        request, survey, language=language, values=raw, extra={**extra, "preview_ok": True}
    )
