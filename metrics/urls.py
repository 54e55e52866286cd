from __future__ import annotations

from django.urls import path, re_path

from metrics import views

app_name = "metrics"

urlpatterns = [
    path("dashboard/", views.dashboard_page, name="dashboard"),
    path("dashboard/analysis/", views.analysis_page, name="analysis"),
    path("dashboard/report/", views.report_page, name="report"),
    path("dashboard/responses/", views.drilldown_page, name="drilldown"),
    re_path(
        r"^dashboard/export/(?P<table>[a-z]+)\.(?P<file_format>csv|xlsx)$",
        views.export,
        name="export",
    ),
    path("settings/targets/", views.targets_page, name="targets"),
    path("settings/weights/", views.weights, name="weights"),
    path("settings/recompute/", views.recompute, name="recompute"),
]
