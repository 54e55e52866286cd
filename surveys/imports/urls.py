from __future__ import annotations

from django.urls import path

from surveys.imports import views

app_name = "imports"

urlpatterns = [
    path("imports/", views.import_list, name="list"),
    path("imports/upload/", views.import_upload, name="upload"),
    path("imports/<int:pk>/", views.import_detail, name="detail"),
    path("imports/<int:pk>/mapping/", views.import_mapping, name="mapping"),
    path("imports/<int:pk>/confirm/", views.import_confirm, name="confirm"),
    path("imports/<int:pk>/cancel/", views.import_cancel, name="cancel"),
    path("imports/<int:pk>/progress.json", views.import_progress, name="progress"),
    path("imports/<int:pk>/problems.csv", views.import_errors_csv, name="errors"),
]
