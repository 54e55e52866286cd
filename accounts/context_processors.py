from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def roles(request: HttpRequest) -> dict[str, Any]:
    """What the navigation may offer the signed-in user."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"can_view_dashboard": False, "can_configure": False}
    return {
        "can_view_dashboard": user.has_perm("metrics.view_dashboard"),
        "can_configure": user.has_perm("accounts.manage_configuration"),
        "can_build_surveys": user.has_perm("surveys.add_survey"),
    }
