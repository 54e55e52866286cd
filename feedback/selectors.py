"""Reads for cases."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from accounts.models import User
from feedback.models import Case


def case_list_for(user: User) -> QuerySet[Case]:
    """The cases a user may see: managers and admins every team's, staff their own team's
    and those assigned to them (the brief: never another team's cases)."""
    cases = Case.objects.select_related("customer", "category", "team", "agent", "assignee")
    if user.has_perm("feedback.view_all_cases"):
        return cases
    mine = Q(assignee=user)
    if user.team_id:
        mine |= Q(team_id=user.team_id)
    return cases.filter(mine)
