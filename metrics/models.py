from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Metric(models.TextChoices):
    NPS = "nps", _("NPS")


class SliceKind(models.TextChoices):
    ALL = "all", _("All")
    SURVEY = "survey", _("Survey")
    CHANNEL = "channel", _("Channel")
    TOUCHPOINT = "touchpoint", _("Touchpoint")
    SEGMENT = "segment", _("Segment")
    TEAM = "team", _("Team")
    AGENT = "agent", _("Agent")


class MetricValue(models.Model):
    """A rollup: one metric for one period and slice, so reading a dashboard never scans responses.

    Values are stored unrounded; `components` keeps the counts and sums the value came from
    (promoters, detractors...), so a figure can be explained and re-derived.
    """

    metric = models.CharField(max_length=32, choices=Metric.choices)
    period = models.CharField(max_length=8, help_text="2025Q1 or 2025")
    slice_kind = models.CharField(max_length=16, choices=SliceKind.choices, default=SliceKind.ALL)
    slice_value = models.CharField(max_length=64, blank=True, default="")
    n = models.PositiveIntegerField(default=0)
    value = models.FloatField(null=True, blank=True)
    margin = models.FloatField(null=True, blank=True)
    low = models.FloatField(null=True, blank=True)
    high = models.FloatField(null=True, blank=True)
    components = models.JSONField(default=dict, blank=True)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["metric", "period", "slice_kind", "slice_value"],
                name="metric_value_unique",
            )
        ]
        permissions = [("view_dashboard", "Can view the manager dashboard")]

    def __str__(self) -> str:
        return f"{self.metric} {self.period} {self.slice_kind}={self.slice_value}: {self.value}"
