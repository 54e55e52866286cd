"""Test and spam marks: staff take a response out of the metrics (and put it back)."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q, QuerySet

from accounts.models import User
from csat.models import OutboxEvent
from csat.outbox import outbox_record
from surveys.models import Response


def response_list_for(user: User) -> QuerySet[Response]:
    """The responses a user may see and mark: managers and admins every team's; staff those
    of their team's surveys, those kept with their team, and those they served."""
    responses = Response.objects.select_related("survey", "customer")
    if user.has_perm("surveys.view_all_responses"):
        return responses
    mine = Q(agent=user)
    if user.team_id:
        mine |= Q(survey__team_id=user.team_id) | Q(team_id=user.team_id)
    return responses.filter(mine)


def response_mark(
    *,
    response: Response,
    is_test: bool | None = None,
    is_spam: bool | None = None,
    by: User | None = None,
) -> bool:
    """Set or clear the test and spam marks; when they change, record the outbox event in the
    same transaction so the metrics take the response out (or back in), and close (or reopen)
    the response's follow-up case with a note saying why. True if changed."""
    from feedback.services import case_follow_response_marks

    wanted = {
        name: value
        for name, value in (("is_test", is_test), ("is_spam", is_spam))
        if value is not None
    }
    if not wanted:
        return False
    with transaction.atomic():
        # Only a row that differs is written: marking twice records one event.
        changed = Response.objects.filter(pk=response.pk).exclude(**wanted).update(**wanted)
        if changed:
            outbox_record(OutboxEvent.Kind.RESPONSE_CHANGED, response.pk)
            case_follow_response_marks(response=response, by=by)
    response.refresh_from_db(fields=["is_test", "is_spam"])
    return bool(changed)
