"""Staff pages for sends, customers and test/spam marks; the public unsubscribe page."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from csat.errors import ApplicationError
from csat.query import query_choice
from surveys import marking
from surveys.models import Customer, Invitation, Segment, Survey, SurveySend
from surveys.outreach import customers as customer_services
from surveys.outreach import invitations as invitation_services
from surveys.outreach import selectors
from surveys.outreach.forms import CUSTOMER_PICKER_LIMIT, CustomerForm, SendForm


def _add_errors(form: SendForm | CustomerForm, error: ApplicationError) -> None:
    for field, problems in error.fields.items():
        for problem in problems:
            form.add_error(field if field in form.fields else None, problem)
    if not error.fields:
        form.add_error(None, error.message)


@permission_required("surveys.view_surveysend", raise_exception=True)
def send_list(request: HttpRequest, pk: int) -> HttpResponse:
    survey = get_object_or_404(Survey, pk=pk)
    return render(
        request,
        "surveys/send_list.html",
        {"survey": survey, "sends": selectors.send_list(survey)},
    )


@permission_required("surveys.add_surveysend", raise_exception=True)
@require_http_methods(["GET", "POST"])
def send_create(request: HttpRequest, pk: int) -> HttpResponse:
    survey = get_object_or_404(Survey, pk=pk)
    form = SendForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            send = invitation_services.send_create(
                survey=survey,
                channel=data["channel"],
                customers=list(data["customers"]),
                external_ids=data["external_ids"],
                segment=data["segment"],
                scheduled_for=data["scheduled_for"],
                reminder_after_days=data["reminder_after_days"],
                expires_after_days=data["expires_after_days"],
                created_by=request.user,
            )
        except ApplicationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, _("Send created: the invitations go out shortly."))
            return redirect("outreach:send_detail", pk=send.pk)
    show_picker = Customer.objects.count() <= CUSTOMER_PICKER_LIMIT
    if not show_picker:
        # No list of customers to pick from: the ids are the first way, not an "or".
        form.fields["external_ids"].label = _("Customers' external ids")
    context = {"survey": survey, "form": form, "show_picker": show_picker}
    return render(request, "surveys/send_create.html", context, status=400 if form.errors else 200)


@permission_required("surveys.view_surveysend", raise_exception=True)
def send_detail(request: HttpRequest, pk: int) -> HttpResponse:
    send = get_object_or_404(SurveySend.objects.select_related("survey", "created_by"), pk=pk)
    figures = selectors.send_figures(send)
    statuses = [
        (value, label, figures.by_status[value])
        for value, label in Invitation.Status.choices
        if figures.by_status[value] or value != Invitation.Status.SENDING
    ]
    page = Paginator(selectors.send_invitations(send), 100).get_page(request.GET.get("page"))
    return render(
        request,
        "surveys/send_detail.html",
        {"send": send, "figures": figures, "statuses": statuses, "page": page},
    )


@permission_required("surveys.view_response", raise_exception=True)
def response_list(request: HttpRequest, pk: int) -> HttpResponse:
    survey = get_object_or_404(Survey, pk=pk)
    responses = (
        marking.response_list_for(request.user)
        .filter(survey=survey, submitted_at__isnull=False)
        .prefetch_related("answers__question")
        .order_by("-submitted_at", "-pk")
    )
    page = Paginator(responses, 50).get_page(request.GET.get("page"))
    return render(request, "surveys/response_list.html", {"survey": survey, "page": page})


@permission_required("surveys.change_response", raise_exception=True)
@require_POST
def response_mark(request: HttpRequest, pk: int) -> HttpResponse:
    response = get_object_or_404(marking.response_list_for(request.user), pk=pk)
    marks = {
        name: request.POST[name] == "1"
        for name in ("is_test", "is_spam")
        if request.POST.get(name) in ("0", "1")
    }
    if not marks:
        messages.error(request, _("Choose test or spam."))
    elif marking.response_mark(response=response, by=request.user, **marks):
        messages.success(request, _("Response #%(id)s updated.") % {"id": response.pk})
    url = reverse("outreach:response_list", args=[response.survey_id])
    page = request.POST.get("page", "")
    return redirect(f"{url}?page={page}" if page.isdigit() else url)


@permission_required("surveys.view_customer", raise_exception=True)
def customer_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:120]
    context = {"query": query, "segments": Segment.choices}
    try:
        segment = query_choice(request.GET, "segment", Segment.values, "")
    except ApplicationError as error:
        # An unknown segment must not list every customer as if they were in it.
        context.update(page=None, segment="", query_errors=error.fields)
        return render(request, "surveys/customer_list.html", context, status=400)
    page = Paginator(selectors.customer_search(query, segment), 100).get_page(
        request.GET.get("page")
    )
    context.update(page=page, segment=segment)
    return render(request, "surveys/customer_list.html", context)


@permission_required("surveys.add_customer", raise_exception=True)
@require_http_methods(["GET", "POST"])
def customer_create(request: HttpRequest) -> HttpResponse:
    form = CustomerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            customer, _created = customer_services.customer_save(**data)
        except ApplicationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, _("Customer %(id)s saved.") % {"id": customer.external_id})
            return redirect("outreach:customer_list")
    return render(
        request, "surveys/customer_create.html", {"form": form}, status=400 if form.errors else 200
    )


# The 256-bit token in the address is the credential. Mail clients send RFC 8058 one-click
# unsubscribes as a cookie-less POST, which a CSRF check would refuse.
@csrf_exempt
@login_not_required
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    invitation = (
        Invitation.objects.select_related("customer", "survey").filter(token=token[:64]).first()
    )
    if invitation is None:
        return render(request, "surveys/unsubscribe_missing.html", status=404)
    customer = invitation.customer
    with translation.override(customer.language or settings.LANGUAGE_CODE):
        if request.method == "POST":
            customer_services.customer_unsubscribe(customer=customer)
            return render(request, "surveys/unsubscribe_done.html", {"survey": invitation.survey})
        return render(
            request,
            "surveys/unsubscribe.html",
            {
                "survey": invitation.survey,
                "is_unsubscribed": customer.unsubscribed_at is not None,
            },
        )
