from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission
from rest_framework.request import Request


def has_perm(codename: str) -> type[BasePermission]:
    """A DRF permission class that requires one Django permission (a role's right)."""

    class HasPermission(BasePermission):
        message = _("Your role does not allow this.")

        def has_permission(self, request: Request, view: Any) -> bool:
            return bool(request.user and request.user.has_perm(codename))

    HasPermission.__name__ = f"HasPermission[{codename}]"
    return HasPermission
