from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.views.i18n import set_language
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts.views import home
from csat.views import healthz
from metrics.apis import MetricDetailApi, MetricListApi, RepurchaseApi
from surveys.apis import ResponseCreateApi, SurveyListApi

api_urlpatterns = [
    path("surveys/", SurveyListApi.as_view(), name="survey-list"),
    path(
        "surveys/<str:public_id>/responses/",
        ResponseCreateApi.as_view(),
        name="response-create",
    ),
    path("metrics/", MetricListApi.as_view(), name="metric-list"),
    path("metrics/repurchase/", RepurchaseApi.as_view(), name="repurchase"),
    path("metrics/<str:metric>/", MetricDetailApi.as_view(), name="metric-detail"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
]

urlpatterns = [
    path("", home, name="home"),
    path("healthz", healthz, name="healthz"),
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_urlpatterns, "api"))),
    path("", include("accounts.urls")),
    path("", include("surveys.urls")),
    path("", include("metrics.urls")),
]
