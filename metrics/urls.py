from __future__ import annotations

from django.urls import path

from metrics import views

app_name = "metrics"

urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("settings/weights/", views.weights, name="weights"),
    path("settings/recompute/", views.recompute, name="recompute"),
]
