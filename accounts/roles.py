"""The three roles as Django groups, each with the permissions that define what it may do."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, Permission

from accounts.models import Role

STAFF_PERMISSIONS = [
    "surveys.view_survey",
    "surveys.add_survey",
    "surveys.change_survey",
    "surveys.view_response",
    "surveys.add_response",
    "surveys.change_response",
    "surveys.view_customer",
    "surveys.add_customer",
    "surveys.change_customer",
    "feedback.view_case",
    "feedback.change_case",
    "feedback.add_case",
    # outreach (issue 3): sends, interactions and purchases
    "surveys.view_surveysend",
    "surveys.add_surveysend",
    "surveys.view_interaction",
    "surveys.add_interaction",
    "surveys.view_purchase",
    "surveys.add_purchase",
    # Imports (CSV/XLSX): responses, customers, and purchases for whoever may record purchases.
    "surveys.view_importjob",
    "surveys.add_importjob",
]
MANAGER_PERMISSIONS = [
    *STAFF_PERMISSIONS,
    "metrics.view_dashboard",
    "feedback.view_all_cases",
    "metrics.view_weightprofile",
    "metrics.view_weightchange",
    "feedback.view_improvementaction",
    "feedback.add_improvementaction",
    "feedback.change_improvementaction",
    "surveys.view_all_responses",
    "metrics.view_target",
]
ADMIN_PERMISSIONS = [
    *MANAGER_PERMISSIONS,
    "accounts.manage_configuration",
    "metrics.add_weightprofile",
    "metrics.change_weightprofile",
    "metrics.add_recomputejob",
    "metrics.add_target",
    "metrics.change_target",
    "metrics.delete_target",
    "accounts.view_user",
    "accounts.add_user",
    "accounts.change_user",
    "accounts.view_team",
    "accounts.add_team",
    "accounts.change_team",
    "surveys.view_touchpoint",
    "surveys.add_touchpoint",
    "surveys.change_touchpoint",
    "surveys.view_dimension",
    "surveys.add_dimension",
    "surveys.change_dimension",
    "feedback.view_complaintcategory",
    "feedback.add_complaintcategory",
    "feedback.change_complaintcategory",
    "feedback.view_slapolicy",
    "feedback.add_slapolicy",
    "feedback.change_slapolicy",
    "surveys.view_touchpointrule",
    "surveys.add_touchpointrule",
    "surveys.change_touchpointrule",
    "surveys.delete_touchpointrule",
]
ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.STAFF: STAFF_PERMISSIONS,
    Role.MANAGER: MANAGER_PERMISSIONS,
    Role.ADMIN: ADMIN_PERMISSIONS,
}


def roles_sync() -> None:
    """Create the role groups and set each one's permissions exactly to its list."""
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=role)
        wanted = []
        for dotted in codenames:
            app_label, codename = dotted.split(".")
            wanted.extend(
                Permission.objects.filter(content_type__app_label=app_label, codename=codename)
            )
        group.permissions.set(wanted)


def roles_sync_after_migrate(sender: Any, **kwargs: Any) -> None:
    """post_migrate receiver: sync once, after the last app has created its permissions."""
    if sender.name == "metrics":
        roles_sync()
