"""Public respondent pages: the survey's link (web and QR), personal links, the embed, the
brand stylesheet and the logo. No account needed; every POST is rate limited per client."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.cache import patch_cache_control
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods
from django_ratelimit.decorators import ratelimit

from csat.errors import ApplicationError
from surveys import branding, selectors, services
from surveys.models import Channel, Invitation, Response, Survey
from surveys.qr import qr_source_read
from surveys.respond import (
    form_submission_key,
    language_for_request,
    question_views,
    raw_answers_from_post,
    raw_answers_from_response,
    survey_questions,
    survey_text,
)


def respond_rate(group: str, request: HttpRequest) -> str | None:
    """The public POST rate limit (a setting, so it can be tuned without a deploy)."""
    return settings.RESPOND_RATE_LIMIT or None


def public_ratelimit(view: Any) -> Any:
    """Count a view's POSTs in the shared "respond" group per client IP (django-ratelimit)."""
    return ratelimit(group="respond", key="ip", rate=respond_rate, method="POST", block=False)(view)


def _too_many(request: HttpRequest, survey: Survey | None, language: str) -> HttpResponse:
    with translation.override(language):
        response = render(request, "surveys/respond_limited.html", {"survey": survey}, status=429)
    response["Retry-After"] = "60"
    return response


def _page(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    language: str,
    status: int = 200,
) -> HttpResponse:
    """Render a respondent page in the respondent's language."""
    survey = context.get("survey")
    if isinstance(survey, Survey):
        context.setdefault("text", survey_text(survey, language))
        context.setdefault("brand", branding.brand_for(survey))
    with translation.override(language):
        response = render(request, template, context, status=status)
    response["Content-Language"] = language
    return response


def render_form(
    request: HttpRequest,
    survey: Survey,
    *,
    language: str,
    values: dict[str, Any] | None = None,
    error: ApplicationError | None = None,
    extra: dict[str, Any] | None = None,
    template: str = "surveys/respond.html",
) -> HttpResponse:
    """The survey form, with posted answers and their errors when a submission was refused."""
    errors = {key: problems[0] for key, problems in error.fields.items()} if error else {}
    with translation.override(language):
        questions = question_views(survey_questions(survey), survey, language, values, errors)
    context: dict[str, Any] = {
        "survey": survey,
        "questions": questions,
        "message": error.message if error else "",
        "submission_key": request.POST.get("submission_key") or secrets.token_urlsafe(24),
        **(extra or {}),
    }
    return _page(request, template, context, language, status=error.status_code if error else 200)


def _closed(request: HttpRequest, survey: Survey, language: str) -> HttpResponse:
    return _page(request, "surveys/respond_closed.html", {"survey": survey}, language, 410)


def _missing(request: HttpRequest) -> HttpResponse:
    return render(request, "surveys/respond_missing.html", status=404)


def _client(request: HttpRequest) -> dict[str, Any]:
    return {
        "ip_address": request.META.get("REMOTE_ADDR"),
        "user_agent": request.META.get("HTTP_USER_AGENT", ""),
    }


# ---------------------------------------------------------------- public link (web, qr)


@login_not_required
@require_http_methods(["GET", "POST"])
@public_ratelimit
def survey_respond(request: HttpRequest, public_id: str) -> HttpResponse:
    survey = selectors.survey_get_public(public_id)
    if survey is None:
        return _missing(request)
    language = language_for_request(request, survey)
    if not survey.is_open:
        return _closed(request, survey, language)
    # A QR code's signed source; a missing or forged one makes this a plain web response.
    src = (request.POST if request.method == "POST" else request.GET).get("src", "")
    source = qr_source_read(survey, src)
    extra = {"src": src if source else ""}
    if request.method != "POST":
        return render_form(request, survey, language=language, extra=extra)
    if getattr(request, "limited", False):
        return _too_many(request, survey, language)
    raw = raw_answers_from_post(request.POST, survey_questions(survey))
    try:
        # Messages in the page's language, whatever the interface cookie or browser says.
        with translation.override(language):
            services.response_submit(
                survey=survey,
                raw_answers=raw,
                channel=Channel.QR if source else Channel.WEB,
                touchpoint=source.touchpoint if source else None,
                source_label=source.location if source else "",
                submission_key=form_submission_key(request.POST),
                language=language,
                **_client(request),
            )
    except ApplicationError as error:
        if error.status_code == 410:
            return _closed(request, survey, language)
        return render_form(request, survey, language=language, values=raw, error=error, extra=extra)
    return redirect("surveys:thanks", public_id=survey.public_id)


@login_not_required
def survey_thanks(request: HttpRequest, public_id: str) -> HttpResponse:
    survey = selectors.survey_get_public(public_id)
    if survey is None:
        return _missing(request)
    language = language_for_request(request, survey)
    return _page(request, "surveys/respond_thanks.html", {"survey": survey}, language)


# ---------------------------------------------------------------- personal link


def _invitation_language(invitation: Invitation) -> str:
    """The language the invitation was written in: the customer's."""
    return invitation.customer.language


@login_not_required
@require_http_methods(["GET", "POST"])
@public_ratelimit
def invite_respond(request: HttpRequest, token: str) -> HttpResponse:
    invitation = (
        Invitation.objects.select_related("survey", "customer", "agent")
        .filter(token=token[:64])
        .first()
    )
    if invitation is None:
        return render(request, "surveys/invite_missing.html", status=404)
    survey = invitation.survey
    language = language_for_request(request, survey, invited=_invitation_language(invitation))
    existing = services.invitation_response(invitation)
    if existing is not None and existing.status == Response.Status.COMPLETE:
        return _page(request, "surveys/invite_answered.html", {"survey": survey}, language)
    if services.invitation_is_expired(invitation):
        return _page(request, "surveys/invite_expired.html", {"survey": survey}, language, 410)
    if not survey.is_open:
        return _closed(request, survey, language)
    extra = {"can_save": True, "resumed": existing is not None}
    if request.method != "POST":
        values = raw_answers_from_response(existing) if existing else None
        return render_form(request, survey, language=language, values=values, extra=extra)
    if getattr(request, "limited", False):
        return _too_many(request, survey, language)
    is_partial = request.POST.get("action") == "save"
    raw = raw_answers_from_post(request.POST, survey_questions(survey))
    try:
        # Messages in the page's language, whatever the interface cookie or browser says.
        with translation.override(language):
            response, _created = services.response_submit(
                survey=survey,
                raw_answers=raw,
                invitation=invitation,
                is_partial=is_partial,
                language=language,
                **_client(request),
            )
    except ApplicationError as error:
        if error.status_code == 410:
            return redirect("surveys:invite_respond", token=invitation.token)
        return render_form(request, survey, language=language, values=raw, error=error, extra=extra)
    if response.status == Response.Status.PARTIAL:
        return _page(request, "surveys/invite_saved.html", {"survey": survey}, language)
    # Complete (now, or by an earlier submission): the link shows the thank-you page.
    return redirect("surveys:invite_respond", token=invitation.token)


# ---------------------------------------------------------------- embed


def _frame_policy(survey: Survey) -> str:
    """A complete policy for the embed page: framable only by the survey's origins."""
    ancestors = " ".join(survey.embed_origins) if survey.embed_origins else "'none'"
    return (
        # data: for the page's empty icon (<link rel="icon" href="data:,">), else a violation.
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; base-uri 'none'; object-src 'none'; "
        f"frame-ancestors {ancestors}"
    )


def _framable(response: HttpResponse, survey: Survey) -> HttpResponse:
    response["Content-Security-Policy"] = _frame_policy(survey)
    return response


# The embed lives in another site's iframe, where the browser withholds our (SameSite) CSRF
# cookie: the form cannot carry a CSRF token. It needs none: it acts for no signed-in user,
# and a forged post could as well be sent directly; duplicates are stopped by its one-time
# submission key and floods by the rate limit.
@login_not_required
@csrf_exempt
@xframe_options_exempt
@require_http_methods(["GET", "POST"])
@public_ratelimit
def survey_embed(request: HttpRequest, public_id: str) -> HttpResponse:
    survey = selectors.survey_get_public(public_id)
    if survey is None:
        return _missing(request)
    language = language_for_request(request, survey)
    if not survey.is_open:
        return _framable(_closed(request, survey, language), survey)
    extra = {"embedded": True, "form_action": reverse("surveys:embed", args=[survey.public_id])}
    if request.method != "POST":
        return _framable(render_form(request, survey, language=language, extra=extra), survey)
    if getattr(request, "limited", False):
        return _framable(_too_many(request, survey, language), survey)
    raw = raw_answers_from_post(request.POST, survey_questions(survey))
    try:
        # Messages in the page's language, whatever the interface cookie or browser says.
        with translation.override(language):
            services.response_submit(
                survey=survey,
                raw_answers=raw,
                channel=Channel.EMBED,
                submission_key=form_submission_key(request.POST),
                language=language,
                **_client(request),
            )
    except ApplicationError as error:
        if error.status_code == 410:
            return _framable(_closed(request, survey, language), survey)
        page = render_form(request, survey, language=language, values=raw, error=error, extra=extra)
        return _framable(page, survey)
    thanks = _page(
        request, "surveys/respond_thanks.html", {"survey": survey, "embedded": True}, language
    )
    return _framable(thanks, survey)


# ---------------------------------------------------------------- brand stylesheet, logo


@login_not_required
@require_GET
def survey_brand_css(request: HttpRequest, public_id: str) -> HttpResponse:
    survey = Survey.objects.filter(public_id=public_id).first()
    if survey is None:
        raise Http404
    response = HttpResponse(branding.brand_css(survey), content_type="text/css; charset=utf-8")
    patch_cache_control(response, public=True, max_age=300)
    return response


@login_not_required
@require_GET
def survey_logo(request: HttpRequest, public_id: str) -> HttpResponse:
    survey = Survey.objects.filter(public_id=public_id).select_related("logo").first()
    logo = getattr(survey, "logo", None) if survey else None
    if logo is None:
        raise Http404
    response = HttpResponse(bytes(logo.data), content_type=logo.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    patch_cache_control(response, public=True, max_age=3600)
    return response
