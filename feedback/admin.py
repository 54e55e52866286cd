from __future__ import annotations

from django.contrib import admin

from feedback.models import Case, ComplaintCategory, ImprovementAction


@admin.register(ComplaintCategory)
class ComplaintCategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "root_cause", "is_active")
    list_filter = ("root_cause", "is_active")


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    list_display = ("pk", "kind", "status", "customer", "category", "opened_at", "resolved_at")
    list_filter = ("kind", "status", "category")
    raw_id_fields = ("customer", "response", "agent", "assignee")


@admin.register(ImprovementAction)
class ImprovementActionAdmin(admin.ModelAdmin):
    list_display = ("title", "owner", "lead_department", "deadline", "status")
    filter_horizontal = ("cases",)
