from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from csat.admin import RecordAdmin, RecordInline
from surveys.models import Answer, Customer, Dimension, Question, Response, Survey, Touchpoint
from surveys.outreach import admin as outreach_admin  # noqa: F401 (registers its models)


class QuestionInline(admin.TabularInline):
    model = Question
    extra = 0
    fk_name = "survey"
    fields = ("position", "kind", "text", "is_required", "scale_min", "scale_max", "dimension")


@admin.register(Survey)
class SurveyAdmin(admin.ModelAdmin):
    list_display = ("title", "status", "touchpoint", "created_at")
    list_filter = ("status",)
    inlines = [QuestionInline]


class AnswerInline(RecordInline):
    model = Answer
    fields = ("question", "grid_row", "choice", "number", "text")


@admin.register(Response)
class ResponseAdmin(RecordAdmin):
    """Marked as test or spam on the survey's responses page (or by the API), which takes the
    response out of the metrics and closes its follow-up case."""

    def get_exclude(self, request: HttpRequest, obj: Response | None = None) -> Any:
        # An anonymous survey's answers are never tied to the customer, and the personal link
        # they came through names one: the link stays (one response per link) but is not shown.
        if obj is not None and obj.survey.is_anonymous:
            return ("invitation",)
        return super().get_exclude(request, obj)

    list_display = ("pk", "survey", "channel", "status", "submitted_at", "is_test", "is_spam")
    list_filter = ("channel", "status", "is_test", "is_spam")
    raw_id_fields = ("customer", "agent")
    inlines = [AnswerInline]


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("external_id", "name", "segment", "language")
    list_filter = ("segment", "language")
    search_fields = ("external_id", "name", "email")


admin.site.register(Touchpoint)
admin.site.register(Dimension)
