"""Writes for cases: opened by low scores or logged as complaints, then worked to closure."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from csat.errors import ApplicationError
from csat.models import OutboxEvent
from csat.outbox import outbox_record
from feedback.models import Case, ComplaintCategory, ImprovementAction, SlaPolicy
from metrics import formulas
from metrics.families import repeat_window
from metrics.models import PeriodRollup
from metrics.periods import quarter_label
from metrics.services import metrics_mark_dirty
from surveys.models import Answer, Channel, Customer, Interaction, Question, Response

DEFAULT_SLA_HOURS = (24, 48)  # acknowledge within 24 h, resolve within 48 h (the brief)


def _sla_hours(kind: str) -> tuple[int, int]:
    policy = SlaPolicy.objects.filter(case_kind=kind).first()
    return (policy.first_response_hours, policy.resolution_hours) if policy else DEFAULT_SLA_HOURS


def _deadlines(
    kind: str, opened_at: datetime, hours: tuple[int, int] | None = None
) -> tuple[datetime, datetime]:
    first, resolution = hours or _sla_hours(kind)
    return opened_at + timedelta(hours=first), opened_at + timedelta(hours=resolution)


def _low_score_ids(response_ids: Sequence[int]) -> set[int]:
    """The responses among these with a detractor score (NPS 0-6) or a CSAT in the bottom
    two points of its scale."""
    scored = list(
        Answer.objects.filter(
            response_id__in=response_ids,
            number__isnull=False,
            question__kind__in=[Question.Kind.NPS, Question.Kind.CSAT],
        )
        .order_by()
        .values_list("response_id", "question_id", "number")
    )
    questions = Question.objects.in_bulk({question_id for _id, question_id, _n in scored})
    low: set[int] = set()
    for response_id, question_id, number in scored:
        question = questions[question_id]
        if question.kind == Question.Kind.NPS:
            threshold = formulas.NPS_DETRACTOR_MAX
        else:
            threshold = formulas.csat_bottom_two_threshold(*(question.scale or (1, 5)))
        if number <= threshold:
            low.add(response_id)
    return low


def _low_score(response_id: int) -> bool:
    """A detractor (NPS 0-6) or a CSAT in the bottom two points of its scale."""
    return bool(_low_score_ids([response_id]))


def case_open_for_response(response_id: int) -> Case | None:
    """Open the follow-up case of a counted low-score response (once: one case a response)."""
    response = (
        Response.objects.filter(Response.counted_q(), pk=response_id)
        .select_related("customer")
        .first()
    )
    if response is None or response.submitted_at is None or not _low_score(response_id):
        return None
    existing = Case.objects.filter(response_id=response_id).first()
    if existing is not None:
        return existing
    first_due, resolution_due = _deadlines(Case.Kind.FOLLOW_UP, response.submitted_at)
    why = "\n".join(
        Answer.objects.filter(response_id=response_id)
        .exclude(text="")
        .values_list("text", flat=True)
    )
    try:
        with transaction.atomic():
            case = Case.objects.create(
                kind=Case.Kind.FOLLOW_UP,
                customer=response.customer,
                response=response,
                channel=response.channel,
                touchpoint_id=response.touchpoint_id,
                segment=response.segment,
                agent_id=response.agent_id,
                team_id=response.team_id,
                summary=why[:2000],
                opened_at=response.submitted_at,
                quarter=response.quarter,
                first_response_due_at=first_due,
                resolution_due_at=resolution_due,
            )
            outbox_record(OutboxEvent.Kind.CASE_CHANGED, case.pk)
    except IntegrityError:  # another worker opened it first
        return Case.objects.get(response_id=response_id)
    return case


def case_follow_response_marks(*, response: Response, by: User | None = None) -> Case | None:
    """Keep a response's follow-up case in step with the response's test and spam marks
    (call in the transaction that changed them).

    A response marked spam or test no longer counts, so neither does its case: an open (or
    resolved) case is closed as "not counted", out of every case metric, with a note saying
    why. When the marks are removed the response counts again, and so does the case: it goes
    back to open (or resolved, if it had been) for staff to work, with a note; a low score
    that never had a case (marked before one opened) gets one now."""
    response.refresh_from_db(fields=["is_test", "is_spam"])
    case = Case.objects.select_for_update().filter(response_id=response.pk).first()
    now = timezone.now()
    values = {
        "day": timezone.localtime(now).strftime("%Y-%m-%d %H:%M"),
        "who": by.display_name if by is not None else _("the app"),
    }
    if response.is_spam or response.is_test:
        if case is None or case.status == Case.Status.WITHDRAWN:
            return case
        values["mark"] = _("spam") if response.is_spam else _("a test")
        note = (
            _(
                "Closed on %(day)s by %(who)s marking the response behind this case as "
                "%(mark)s: the response no longer counts, and neither does this case in any "
                "case metric."
            )
            % values
        )
        status = Case.Status.WITHDRAWN
    else:
        if case is None:
            return case_open_for_response(response.pk)
        if case.status != Case.Status.WITHDRAWN:
            return case
        note = (
            _(
                "Reopened on %(day)s: %(who)s removed the test or spam mark from the response "
                "behind this case, so it counts again."
            )
            % values
        )
        status = Case.Status.RESOLVED if case.resolved_at else Case.Status.OPEN
    case.status = status
    case.resolution_note = "\n".join(filter(None, [case.resolution_note, note]))
    case.save(update_fields=["status", "resolution_note"])
    outbox_record(OutboxEvent.Kind.CASE_CHANGED, case.pk)
    return case


# A batch of an import's responses at a time: below every database's parameter limit.
CASE_BATCH = 900


def cases_open_for_responses(response_ids: Sequence[int]) -> int:
    """Open the follow-up cases of the counted low-score responses among these in bulk (an
    import's committed chunk): the rules of case_open_for_response, a few statements per 900
    responses instead of a few per response. Idempotent; returns how many it opened."""
    opened = 0
    hours = _sla_hours(Case.Kind.FOLLOW_UP)
    ids = list(response_ids)
    for start in range(0, len(ids), CASE_BATCH):
        batch = ids[start : start + CASE_BATCH]
        low = _low_score_ids(batch)
        responses = list(
            Response.objects.filter(
                Response.counted_q(), pk__in=low, submitted_at__isnull=False, case__isnull=True
            )
            .order_by("pk")
            .values(
                "pk",
                "customer_id",
                "channel",
                "touchpoint_id",
                "segment",
                "agent_id",
                "team_id",
                "submitted_at",
                "quarter",
            )
        )
        if not responses:
            continue
        why: dict[int, list[str]] = {}
        for response_id, text in (
            Answer.objects.filter(response_id__in=[response["pk"] for response in responses])
            .exclude(text="")
            .order_by("response_id", "question__position", "pk")
            .values_list("response_id", "text")
        ):
            why.setdefault(response_id, []).append(text)
        cases = []
        for response in responses:
            first_due, resolution_due = _deadlines(
                Case.Kind.FOLLOW_UP, response["submitted_at"], hours
            )
            cases.append(
                Case(
                    kind=Case.Kind.FOLLOW_UP,
                    customer_id=response["customer_id"],
                    response_id=response["pk"],
                    channel=response["channel"],
                    touchpoint_id=response["touchpoint_id"],
                    segment=response["segment"],
                    agent_id=response["agent_id"],
                    team_id=response["team_id"],
                    summary="\n".join(why.get(response["pk"], []))[:2000],
                    opened_at=response["submitted_at"],
                    quarter=response["quarter"],
                    first_response_due_at=first_due,
                    resolution_due_at=resolution_due,
                )
            )
        with transaction.atomic():
            # One case a response (a unique column): a case another worker opened meanwhile
            # wins. The case metrics of the quarters are marked for recompute in the same
            # transaction, as one CASE_CHANGED event per case would do.
            Case.objects.bulk_create(cases, ignore_conflicts=True)
            metrics_mark_dirty({case.quarter for case in cases}, [PeriodRollup.Family.CASES])
        opened += len(cases)
    return opened


@transaction.atomic
def case_log_complaint(
    *,
    category: ComplaintCategory | None,
    channel: str,
    summary: str,
    customer: Customer | None = None,
    interaction: Interaction | None = None,
    agent: User | None = None,
    opened_at: datetime | None = None,
) -> Case:
    """Log a complaint from any channel; it needs a category from the taxonomy."""
    errors: dict[str, list[str]] = {}
    if category is None:
        errors["category"] = [_("Choose a complaint category.")]
    if channel not in Channel.values:
        errors["channel"] = [_("Unknown channel.")]
    if not summary.strip():
        errors["summary"] = [_("Describe the complaint.")]
    opened_at = opened_at or timezone.now()
    if opened_at > timezone.now():
        errors["opened_at"] = [_("A complaint cannot be opened in the future.")]
    if errors:
        raise ApplicationError(_("The complaint could not be logged."), errors)
    # The agent who served the customer and their team then, kept from the interaction
    # behind the complaint (metrics.md, "Slices"); without one, the logging staff member now.
    team = agent.team if agent else None
    segment = customer.segment if customer else ""
    if interaction is not None:
        customer = customer or interaction.customer
        agent, team = interaction.agent, interaction.team
        segment = interaction.segment
    first_due, resolution_due = _deadlines(Case.Kind.COMPLAINT, opened_at)
    case = Case.objects.create(
        kind=Case.Kind.COMPLAINT,
        customer=customer,
        category=category,
        channel=channel,
        interaction=interaction,
        touchpoint=interaction.touchpoint if interaction else None,
        segment=segment,
        agent=agent,
        team=team,
        summary=summary.strip(),
        opened_at=opened_at,
        quarter=quarter_label(opened_at),
        first_response_due_at=first_due,
        resolution_due_at=resolution_due,
        contact_count=1,
    )
    outbox_record(OutboxEvent.Kind.CASE_CHANGED, case.pk)
    return case


def _when(case: Case, at: datetime | None, field: str) -> datetime:
    moment = at or timezone.now()
    if moment < case.opened_at:
        raise ApplicationError(
            _("That time is before the case was opened."),
            {field: [_("Give a time after the case was opened.")]},
        )
    if moment > timezone.now():
        raise ApplicationError(
            _("That time is in the future."), {field: [_("Give a time that has passed.")]}
        )
    return moment


@transaction.atomic
def case_record_first_response(*, case: Case, at: datetime | None = None) -> Case:
    """Record the first response to the customer (once; later ones change nothing)."""
    moment = _when(case, at, "first_response_at")
    updated = Case.objects.filter(
        Q(resolved_at__isnull=True) | Q(resolved_at__gte=moment),
        pk=case.pk,
        first_response_at__isnull=True,
    ).update(first_response_at=moment)
    if updated:
        outbox_record(OutboxEvent.Kind.CASE_CHANGED, case.pk)
    case.refresh_from_db()
    return case


@transaction.atomic
def case_record_contact(*, case: Case) -> Case:
    """Count one more contact with the customer about this case (operational FCR)."""
    Case.objects.filter(pk=case.pk).update(contact_count=F("contact_count") + 1)
    outbox_record(OutboxEvent.Kind.CASE_CHANGED, case.pk)
    case.refresh_from_db()
    return case


RESOLUTION_MAX_CHARS = 5000


@transaction.atomic
def case_resolve(
    *, case: Case, resolution: str, by: User | None = None, at: datetime | None = None
) -> Case:
    """Resolve a case, saying what was done for the customer (required: a case closed
    without it cannot be fed back to the customer or checked by a supervisor); without an
    earlier first response, the resolution is the first one."""
    resolution = resolution.strip()
    if not resolution:
        raise ApplicationError(
            _("Say what was done for the customer before resolving the case."),
            {"resolution": [_("Describe what was done for the customer.")]},
        )
    if len(resolution) > RESOLUTION_MAX_CHARS:
        raise ApplicationError(
            _("The resolution is too long."),
            {
                "resolution": [
                    _("Keep it to %(limit)d characters; it has %(count)d.")
                    % {"limit": RESOLUTION_MAX_CHARS, "count": len(resolution)}
                ]
            },
        )
    if case.status == Case.Status.WITHDRAWN:
        raise ApplicationError(
            _("This case is closed and not counted: its response was marked spam or test."),
            {"status": [_("Remove the mark from the response to work the case again.")]},
        )
    moment = _when(case, at, "resolved_at")
    if case.first_response_at and moment < case.first_response_at:
        raise ApplicationError(
            _("A case cannot be resolved before its first response."),
            {"resolved_at": [_("Give a time after the first response.")]},
        )
    updated = Case.objects.filter(
        pk=case.pk, resolved_at__isnull=True, status=Case.Status.OPEN
    ).update(resolved_at=moment, status=Case.Status.RESOLVED, resolution=resolution, resolved_by=by)
    if updated:
        outbox_record(OutboxEvent.Kind.CASE_CHANGED, case.pk)
    case.refresh_from_db()
    return case


@transaction.atomic
def case_categorise(*, case: Case, category_id: int | str | None) -> Case:
    """Set or change a case's category (a follow-up's or a complaint's) to an active one of
    the admin taxonomy; the case metrics of the quarters it touches are recomputed."""
    category = None
    if category_id not in (None, "") and str(category_id).isdigit():
        category = ComplaintCategory.objects.filter(pk=int(category_id), is_active=True).first()
    if category is None:
        raise ApplicationError(
            _("The category was not changed."),
            {"category": [_("Choose a category of the complaint taxonomy.")]},
        )
    locked = Case.objects.select_for_update().get(pk=case.pk)
    if locked.category_id == category.pk:
        return locked
    previous = locked.category_id
    Case.objects.filter(pk=case.pk).update(category=category)
    # The CASE_CHANGED event recomputes the case's quarter and those of the customer's
    # earlier complaints in the new category; the earlier complaints in the old category,
    # which this one may have made repeats, change too (the non-repeat resolution rate).
    if locked.kind == Case.Kind.COMPLAINT and locked.customer_id and previous is not None:
        earlier = Case.objects.filter(
            kind=Case.Kind.COMPLAINT,
            customer_id=locked.customer_id,
            category_id=previous,
            resolved_at__gte=locked.opened_at - repeat_window(),
            resolved_at__lt=locked.opened_at,
        ).values_list("quarter", flat=True)
        metrics_mark_dirty(set(earlier), [PeriodRollup.Family.CASES])
    outbox_record(OutboxEvent.Kind.CASE_CHANGED, case.pk)
    locked.refresh_from_db()
    return locked


def _action_of(action_id: int | str | None) -> ImprovementAction | None:
    if action_id in (None, "") or not str(action_id).isdigit():
        return None
    return ImprovementAction.objects.filter(pk=int(action_id)).first()


@transaction.atomic
def case_link_action(*, case: Case, action_id: int | str | None) -> ImprovementAction:
    """Record that a case feeds an improvement action (problem conversion, metrics.md)."""
    action = _action_of(action_id)
    if action is None:
        raise ApplicationError(
            _("The case was not linked."),
            {"action": [_("Choose one of the improvement actions.")]},
        )
    if not action.cases.filter(pk=case.pk).exists():
        action.cases.add(case)
        metrics_mark_dirty([case.quarter], [PeriodRollup.Family.CASES])
    return action


@transaction.atomic
def case_unlink_action(*, case: Case, action_id: int | str | None) -> ImprovementAction:
    """Take a case off an improvement action it was linked to by mistake."""
    action = _action_of(action_id)
    if action is None or not action.cases.filter(pk=case.pk).exists():
        raise ApplicationError(
            _("The case was not unlinked."),
            {"action": [_("The case does not feed this improvement action.")]},
        )
    action.cases.remove(case)
    metrics_mark_dirty([case.quarter], [PeriodRollup.Family.CASES])
    return action


def cases_action_links_changed(case_ids: Iterable[int]) -> None:
    """Cases linked to or unlinked from actions elsewhere (the admin): recompute their
    quarters' problem conversion (a link changes no other quarter)."""
    quarters = Case.objects.filter(pk__in=list(case_ids)).values_list("quarter", flat=True)
    metrics_mark_dirty(quarters, [PeriodRollup.Family.CASES])


@transaction.atomic
def action_create(*, case: Case | None = None, **fields: object) -> ImprovementAction:
    """Create an improvement action, fed by the case it was started from (if any)."""
    action = ImprovementAction.objects.create(**fields)
    if case is not None:
        case_link_action(case=case, action_id=action.pk)
    return action
