"""What the Django admin may do with the records the metrics count."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest


class RecordAdmin(admin.ModelAdmin):
    """Responses, cases, invitations, sends, interactions and purchases: shown to look at, never
    added, changed or deleted here. The app's pages and API change them through services that
    record, in the same transaction, what the change means elsewhere (the rollups' outbox
    event, the quarter an interaction counts in, the follow-up case a spam mark closes); a save
    in the admin would skip all of it and leave the metrics wrong until a full recompute, or
    for good (an interaction added here had no quarter)."""

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class RecordInline(admin.TabularInline):
    """The rows of a record (a response's answers), read only like the record."""

    extra = 0

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
