"""Staff pages for cases (the list, logging a complaint, working a case to closure) and the
improvement actions the cases feed."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from csat.errors import ApplicationError
from csat.query import query_choice
from feedback import selectors, services
from feedback.forms import ComplaintForm, ImprovementActionForm
from feedback.models import Case, ComplaintCategory, ImprovementAction
from surveys.models import Customer
from surveys.respond import text_in


@permission_required("feedback.view_case", raise_exception=True)
def case_list(request: HttpRequest) -> HttpResponse:
    cases = selectors.case_list_for(request.user)
    try:
        status = query_choice(request.GET, "status", [*Case.Status.values, "all"], "open")
    except ApplicationError as error:
        # A mistyped link must not show every case as if they matched: refuse it.
        context = {"cases": [], "status": "", "now": timezone.now(), "query_errors": error.fields}
        return render(request, "feedback/case_list.html", context, status=400)
    if status != "all":
        cases = cases.filter(status=status)
    context = {"cases": cases[:200], "status": status, "now": timezone.now()}
    return render(request, "feedback/case_list.html", context)


@permission_required("feedback.add_case", raise_exception=True)
@require_http_methods(["GET", "POST"])
def complaint_create(request: HttpRequest) -> HttpResponse:
    form = ComplaintForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        customer = None
        if data["customer_external_id"]:
            customer = Customer.objects.filter(external_id=data["customer_external_id"]).first()
            if customer is None:
                form.add_error("customer_external_id", _("No customer has this external id."))
        if not form.errors:
            try:
                case = services.case_log_complaint(
                    category=data["category"],
                    channel=data["channel"],
                    summary=data["summary"],
                    customer=customer,
                    agent=request.user,
                )
            except ApplicationError as error:
                for field, problems in error.fields.items():
                    form.add_error(field if field in form.fields else None, problems[0])
            else:
                messages.success(request, _("Complaint logged."))
                return redirect("feedback:detail", pk=case.pk)
    status = 400 if form.errors else 200
    return render(request, "feedback/complaint_create.html", {"form": form}, status=status)


@permission_required("feedback.view_case", raise_exception=True)
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _case_page(request, pk)


def _case_page(
    request: HttpRequest,
    pk: int,
    errors: dict[str, list[str]] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    """The case page; after a refused change, with the problems beside their fields and what
    was typed kept."""
    case = get_object_or_404(
        selectors.case_list_for(request.user).select_related(
            "customer", "category", "response", "resolved_by"
        ),
        pk=pk,
    )
    answers = []
    if case.response is not None:
        # What the customer said: the reason a follow-up was opened, read before calling them.
        answers = list(
            case.response.answers.select_related("question__survey", "choice", "grid_row").order_by(
                "question__position", "grid_row__position"
            )
        )
        language = get_language() or ""
        for answer in answers:
            # The question and its grid row in the reader's language where the survey has it.
            default = answer.question.survey.default_language
            answer.question_text = text_in(answer.question, "text", language, default)
            answer.row_label = (
                text_in(answer.grid_row, "label", language, default) if answer.grid_row else ""
            )
    now = timezone.now()
    values = values or {}
    context = {
        "case": case,
        "answers": answers,
        "actions": list(case.actions.select_related("owner")),
        "linkable_actions": (
            list(ImprovementAction.objects.exclude(cases=case).order_by("status", "deadline", "pk"))
            if request.user.has_perm("feedback.change_improvementaction")
            else []
        ),
        "first_response_overdue": case.status == Case.Status.OPEN
        and case.first_response_at is None
        and case.first_response_due_at < now,
        "resolution_overdue": case.status == Case.Status.OPEN
        and case.resolved_at is None
        and case.resolution_due_at < now,
        "categories": ComplaintCategory.objects.filter(is_active=True),
        "errors": errors or {},
        "resolution_value": values.get("resolution", ""),
        "category_value": values.get("category", str(case.category_id or "")),
    }
    return render(request, "feedback/case_detail.html", context, status=status)


@permission_required("feedback.change_case", raise_exception=True)
@require_POST
def case_act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    case = get_object_or_404(selectors.case_list_for(request.user), pk=pk)
    actions = {
        "first-response": lambda: services.case_record_first_response(case=case),
        "contact": lambda: services.case_record_contact(case=case),
        "resolve": lambda: services.case_resolve(
            case=case, resolution=request.POST.get("resolution", ""), by=request.user
        ),
        "category": lambda: services.case_categorise(
            case=case, category_id=request.POST.get("category", "")
        ),
        "link-action": lambda: services.case_link_action(
            case=case, action_id=request.POST.get("action", "")
        ),
        "unlink-action": lambda: services.case_unlink_action(
            case=case, action_id=request.POST.get("action", "")
        ),
    }
    if action not in actions:
        return HttpResponse(status=404)
    if action.endswith("-action") and not request.user.has_perm(
        "feedback.change_improvementaction"
    ):
        raise PermissionDenied
    try:
        actions[action]()
    except ApplicationError as error:
        if error.fields.keys() & {"resolution", "category", "action"}:
            # Beside the field, with what was typed kept (a resolution can be long).
            values = {name: request.POST.get(name, "") for name in ("resolution", "category")}
            return _case_page(request, pk, error.fields, values, status=400)
        messages.error(request, error.message)
    else:
        if action == "category":
            messages.success(request, _("Category saved."))
        elif action == "link-action":
            messages.success(request, _("The case now feeds this improvement action."))
        elif action == "unlink-action":
            messages.success(request, _("The case no longer feeds this improvement action."))
    return redirect("feedback:detail", pk=case.pk)


@permission_required("feedback.view_improvementaction", raise_exception=True)
def action_list(request: HttpRequest) -> HttpResponse:
    """Improvement actions with their owner, departments, deadline, status and cases."""
    actions = (
        ImprovementAction.objects.select_related("owner")
        .annotate(case_count=Count("cases"))
        .order_by("status", "deadline", "pk")
    )
    context = {
        "actions": actions,
        "statuses": ImprovementAction.Status.choices,
        "today": timezone.localdate(),
        "can_change": request.user.has_perm("feedback.change_improvementaction"),
        "can_add": request.user.has_perm("feedback.add_improvementaction"),
    }
    return render(request, "feedback/action_list.html", context)


@permission_required("feedback.add_improvementaction", raise_exception=True)
@require_http_methods(["GET", "POST"])
def action_create(request: HttpRequest) -> HttpResponse:
    """A new improvement action; started from a case (?case=), it is fed by that case."""
    case = None
    case_id = request.GET.get("case", "")
    if case_id:
        case = (
            selectors.case_list_for(request.user).filter(pk=int(case_id)).first()
            if case_id.isdigit()
            else None
        )
        if case is None:
            return HttpResponse(
                _("case: no case %(value)s that you can see.") % {"value": case_id[:20]},
                status=400,
                content_type="text/plain; charset=utf-8",
            )
    form = ImprovementActionForm(request.POST or None, initial={"owner": request.user.pk})
    if request.method == "POST" and form.is_valid():
        action = services.action_create(case=case, **form.cleaned_data)
        messages.success(
            request, _("Improvement action “%(title)s” created.") % {"title": action.title}
        )
        if case is not None:
            return redirect("feedback:detail", pk=case.pk)
        return redirect("feedback:actions")
    status = 400 if form.errors else 200
    context = {"form": form, "case": case}
    return render(request, "feedback/action_create.html", context, status=status)


@permission_required("feedback.change_improvementaction", raise_exception=True)
@require_POST
def action_status(request: HttpRequest, pk: int) -> HttpResponse:
    """Move an action to planned, in progress or done."""
    action = get_object_or_404(ImprovementAction, pk=pk)
    status = request.POST.get("status", "")
    if status not in ImprovementAction.Status.values:
        messages.error(
            request,
            _("Status: choose one of %(choices)s; “%(value)s” is not one.")
            % {
                "choices": ", ".join(str(label) for label in ImprovementAction.Status.labels),
                "value": status[:40],
            },
        )
        return redirect("feedback:actions")
    ImprovementAction.objects.filter(pk=action.pk).update(status=status)
    messages.success(
        request,
        _("“%(title)s” is now %(status)s.")
        % {"title": action.title, "status": ImprovementAction.Status(status).label},
    )
    return redirect("feedback:actions")
