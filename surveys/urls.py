from __future__ import annotations

from django.urls import path

from surveys import views

app_name = "surveys"

urlpatterns = [
    path("surveys/", views.survey_list, name="list"),
    path("surveys/new/", views.survey_create, name="create"),
    path("surveys/<int:pk>/", views.survey_detail, name="detail"),
    path("surveys/<int:pk>/status/", views.survey_status, name="status"),
    path("s/<str:public_id>/", views.survey_respond, name="respond"),
    path("s/<str:public_id>/thanks/", views.survey_thanks, name="thanks"),
]
