"""Admin for outreach: touchpoint rules (configuration); sends, invitations, interactions and
purchases to look at (csat.admin.RecordAdmin)."""

from __future__ import annotations

from django.contrib import admin

from csat.admin import RecordAdmin
from surveys.models import Interaction, Invitation, Purchase, SurveySend, TouchpointRule


@admin.register(TouchpointRule)
class TouchpointRuleAdmin(admin.ModelAdmin):
    list_display = ("touchpoint", "survey", "channel", "delay", "reminder_after_days", "is_active")
    list_filter = ("channel", "is_active")


@admin.register(SurveySend)
class SurveySendAdmin(RecordAdmin):
    list_display = ("survey", "channel", "audience", "segment", "scheduled_for", "created_by")
    list_filter = ("channel", "audience")
    raw_id_fields = ("survey", "created_by")


@admin.register(Invitation)
class InvitationAdmin(RecordAdmin):
    list_display = ("pk", "survey", "customer", "channel", "status", "due_at", "sent_at")
    list_filter = ("channel", "status", "suppression_reason")
    raw_id_fields = ("survey", "customer", "send", "interaction", "agent")
    exclude = ("token",)


@admin.register(Interaction)
class InteractionAdmin(RecordAdmin):
    list_display = ("pk", "customer", "touchpoint", "agent", "occurred_at")
    list_filter = ("touchpoint",)
    raw_id_fields = ("customer", "agent")


@admin.register(Purchase)
class PurchaseAdmin(RecordAdmin):
    list_display = ("pk", "customer", "purchased_at", "amount", "external_id")
    raw_id_fields = ("customer",)
