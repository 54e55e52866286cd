"""Staff pages for the QR, embed and phone channels."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.html import escape
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from csat.errors import ApplicationError
from csat.text import join_clauses
from surveys import services
from surveys.forms import PhoneStartForm, QrForm
from surveys.models import Channel, Customer, Survey
from surveys.qr import qr_image, qr_link
from surveys.respond import (
    form_submission_key,
    language_supported,
    question_views,
    raw_answers_from_post,
    survey_questions,
    survey_text,
)

# ---------------------------------------------------------------- QR codes


@permission_required("surveys.view_survey", raise_exception=True)
@require_GET
def qr_page(request: HttpRequest, pk: int) -> HttpResponse:
    """A printable page: the code, the survey's title and the location, with downloads."""
    survey = get_object_or_404(Survey, pk=pk)
    form = QrForm(request.GET or None)
    valid = form.is_valid() if request.GET else True
    data = form.cleaned_data if request.GET and valid else {}
    context = {
        "survey": survey,
        "form": form,
        "valid": valid,
        "link": qr_link(survey, data.get("touchpoint"), data.get("location", "")) if valid else "",
        "query": request.GET.urlencode() if valid else "",
        "location": data.get("location", ""),
        "touchpoint": data.get("touchpoint"),
    }
    return render(request, "surveys/qr.html", context, status=200 if valid else 400)


@permission_required("surveys.view_survey", raise_exception=True)
@require_GET
def qr_download(request: HttpRequest, pk: int, kind: str) -> HttpResponse:
    """The QR code as an SVG or PNG image (inline, or as a download with ?download=1)."""
    if kind not in ("svg", "png"):
        raise Http404
    survey = get_object_or_404(Survey, pk=pk)
    form = QrForm(request.GET)
    if not form.is_valid():
        return HttpResponse(
            join_clauses(f"{name}: {' '.join(problems)}" for name, problems in form.errors.items()),
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    link = qr_link(survey, form.cleaned_data["touchpoint"], form.cleaned_data["location"])
    content_type = "image/svg+xml" if kind == "svg" else "image/png"
    response = HttpResponse(qr_image(link, kind, title=survey.title), content_type=content_type)
    if request.GET.get("download"):
        response["Content-Disposition"] = f'attachment; filename="survey-{survey.pk}-qr.{kind}"'
    return response


# ---------------------------------------------------------------- embed


@permission_required("surveys.view_survey", raise_exception=True)
@require_GET
def embed_snippet(request: HttpRequest, pk: int) -> HttpResponse:
    """The iframe and script snippets that put the survey on another site."""
    survey = get_object_or_404(Survey, pk=pk)
    embed_url = escape(settings.SITE_URL + reverse("surveys:embed", args=[survey.public_id]))
    script_url = escape(settings.SITE_URL + "/" + static("js/embed.js").lstrip("/"))
    title = escape(survey.title)
    # Plain strings (escaped once for the snippet's own HTML); the page escapes them again
    # to show them as text.
    iframe = (
        f'<iframe src="{embed_url}" title="{title}" width="100%" height="720" '
        'loading="lazy"></iframe>'
    )
    script = (
        f'<script src="{script_url}" data-csat-survey="{embed_url}" data-title="{title}" '
        "async></script>"
    )
    return render(
        request,
        "surveys/embed_snippet.html",
        {"survey": survey, "iframe": iframe, "script": script},
    )


# ---------------------------------------------------------------- phone callback


@permission_required("surveys.add_response", raise_exception=True)
@require_http_methods(["GET", "POST"])
def phone_entry(request: HttpRequest) -> HttpResponse:
    """A staff member types the customer's answers during a callback (channel phone)."""
    # A link from a survey's page preselects the survey; the form counts as sent once it
    # names a customer.
    sent = request.POST if request.method == "POST" else request.GET
    start = PhoneStartForm(
        sent if "customer" in sent else None, initial={"survey": request.GET.get("survey")}
    )
    if not start.is_bound or not start.is_valid():
        status = 400 if start.is_bound else 200
        return render(request, "surveys/phone_start.html", {"form": start}, status=status)
    survey: Survey = start.cleaned_data["survey"]
    customer = Customer.objects.filter(external_id=start.cleaned_data["customer"].strip()).first()
    if customer is None:
        start.add_error("customer", _("No customer has this external id."))
        return render(request, "surveys/phone_start.html", {"form": start}, status=400)
    language = language_supported(get_language()) or settings.LANGUAGE_CODE
    questions = survey_questions(survey)
    values, errors, message = None, {}, ""
    if request.method == "POST":
        values = raw_answers_from_post(request.POST, questions)
        try:
            services.response_submit(
                survey=survey,
                raw_answers=values,
                channel=Channel.PHONE,
                customer=customer,
                agent=request.user,  # type: ignore[arg-type]
                submission_key=form_submission_key(request.POST),
                language=customer.language,
            )
        except ApplicationError as error:
            errors = {key: problems[0] for key, problems in error.fields.items()}
            message = error.message
        else:
            messages.success(
                request,
                _("Answers of %(customer)s saved for %(survey)s.")
                % {"customer": customer, "survey": survey},
            )
            return redirect("surveys:phone")
    context = {
        "form": start,
        "survey": survey,
        "customer": customer,
        "text": survey_text(survey, language),
        "questions": question_views(questions, survey, language, values, errors),
        "message": message,
        "submission_key": request.POST.get("submission_key") or secrets.token_urlsafe(24),
    }
    return render(request, "surveys/phone_entry.html", context, status=400 if message else 200)
