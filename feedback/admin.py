from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from csat.admin import RecordAdmin
from feedback.models import Case, ComplaintCategory, ImprovementAction, SlaPolicy
from feedback.services import cases_action_links_changed


@admin.register(ComplaintCategory)
class ComplaintCategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "root_cause", "is_active")
    list_filter = ("root_cause", "is_active")


@admin.register(Case)
class CaseAdmin(RecordAdmin):
    """Worked on the case pages (first response, resolution, contacts, links to actions)."""

    list_display = ("pk", "kind", "status", "customer", "category", "opened_at", "resolved_at")
    list_filter = ("kind", "status", "category")
    raw_id_fields = ("customer", "response", "agent", "assignee")


@admin.register(ImprovementAction)
class ImprovementActionAdmin(admin.ModelAdmin):
    list_display = ("title", "owner", "lead_department", "deadline", "status")
    filter_horizontal = ("cases",)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # Cases linked or unlinked here change their quarters' problem conversion.
        action = form.instance
        before = set(action.cases.values_list("pk", flat=True)) if change else set()
        super().save_related(request, form, formsets, change)
        cases_action_links_changed(before ^ set(action.cases.values_list("pk", flat=True)))

    def delete_model(self, request: HttpRequest, obj: ImprovementAction) -> None:
        linked = list(obj.cases.values_list("pk", flat=True))
        super().delete_model(request, obj)
        cases_action_links_changed(linked)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        linked = list(Case.objects.filter(actions__in=queryset).values_list("pk", flat=True))
        super().delete_queryset(request, queryset)
        cases_action_links_changed(linked)


class SlaPolicyForm(forms.ModelForm):
    """Deadlines for new cases of a kind: whole hours, the resolution no sooner than the reply."""

    case_kind = forms.ChoiceField(label=_("case kind"), choices=Case.Kind.choices)
    first_response_hours = forms.IntegerField(
        label=_("first response within (hours)"), min_value=1, max_value=24 * 90
    )
    resolution_hours = forms.IntegerField(
        label=_("resolution within (hours)"), min_value=1, max_value=24 * 365
    )

    class Meta:
        model = SlaPolicy
        fields = ("case_kind", "first_response_hours", "resolution_hours")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, resolution = data.get("first_response_hours"), data.get("resolution_hours")
        if first is not None and resolution is not None and resolution < first:
            self.add_error(
                "resolution_hours",
                _(
                    "Resolution cannot be due before the first response: it is %(resolution)d h, "
                    "the first response %(first)d h."
                )
                % {"resolution": resolution, "first": first},
            )
        return data


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    form = SlaPolicyForm
    list_display = ("case_kind", "first_response_hours", "resolution_hours", "updated_at")
