from __future__ import annotations

from django.urls import path

from feedback import views

app_name = "feedback"

urlpatterns = [
    path("cases/", views.case_list, name="list"),
    path("cases/complaint/", views.complaint_create, name="complaint"),
    path("cases/<int:pk>/", views.case_detail, name="detail"),
    path("cases/<int:pk>/<str:action>/", views.case_act, name="act"),
    path("actions/", views.action_list, name="actions"),
    path("actions/new/", views.action_create, name="action_create"),
    path("actions/<int:pk>/status/", views.action_status, name="action_status"),
]
