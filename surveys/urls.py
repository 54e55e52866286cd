from __future__ import annotations

from django.urls import path

from surveys import builder_views, channel_views, respond_views, views

app_name = "surveys"

urlpatterns = [
    # staff: surveys
    path("surveys/", views.survey_list, name="list"),
    path("surveys/new/", builder_views.survey_new, name="create"),
    path("surveys/<int:pk>/", views.survey_detail, name="detail"),
    path("surveys/<int:pk>/status/", views.survey_status, name="status"),
    # staff: builder
    path("surveys/<int:pk>/edit/", builder_views.survey_edit, name="edit"),
    path("surveys/<int:pk>/questions/new/", builder_views.question_new, name="question_new"),
    path(
        "surveys/<int:pk>/questions/<int:question_pk>/",
        builder_views.question_edit,
        name="question_edit",
    ),
    path(
        "surveys/<int:pk>/questions/<int:question_pk>/move/",
        builder_views.question_move,
        name="question_move",
    ),
    path(
        "surveys/<int:pk>/questions/<int:question_pk>/delete/",
        builder_views.question_delete,
        name="question_delete",
    ),
    path("surveys/<int:pk>/preview/", builder_views.survey_preview, name="preview"),
    # staff: channels
    path("surveys/<int:pk>/qr/", channel_views.qr_page, name="qr"),
    path("surveys/<int:pk>/qr.<str:kind>", channel_views.qr_download, name="qr_image"),
    path("surveys/<int:pk>/embed/", channel_views.embed_snippet, name="embed_snippet"),
    path("surveys/phone/", channel_views.phone_entry, name="phone"),
    # respondents
    path("s/<str:public_id>/", respond_views.survey_respond, name="respond"),
    path("s/<str:public_id>/thanks/", respond_views.survey_thanks, name="thanks"),
    path("s/<str:public_id>/brand.css", respond_views.survey_brand_css, name="brand_css"),
    path("s/<str:public_id>/logo", respond_views.survey_logo, name="logo"),
    path("e/<str:public_id>/", respond_views.survey_embed, name="embed"),
    path("i/<str:token>/", respond_views.invite_respond, name="invite_respond"),
]
