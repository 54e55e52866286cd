from __future__ import annotations

from csp.decorators import csp_update
from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.views.i18n import set_language
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts.views import home
from csat.views import healthz
from feedback.apis import CaseActionApi, CaseListApi
from metrics.apis import (
    ComplaintCategoriesApi,
    DimensionsApi,
    MetricDetailApi,
    MetricListApi,
    RepurchaseApi,
    ScoreDistributionApi,
    WeightProfileApi,
)
from metrics.target_apis import TargetDetailApi, TargetListApi, TargetStatusApi
from surveys.apis import ResponseCreateApi, SurveyListApi
from surveys.outreach.urls import api_urlpatterns as outreach_api_urlpatterns

api_urlpatterns = [
    path("surveys/", SurveyListApi.as_view(), name="survey-list"),
    path(
        "surveys/<str:public_id>/responses/",
        ResponseCreateApi.as_view(),
        name="response-create",
    ),
    path("cases/", CaseListApi.as_view(), name="case-list"),
    path("cases/<int:pk>/<str:action>/", CaseActionApi.as_view(), name="case-action"),
    path("metrics/", MetricListApi.as_view(), name="metric-list"),
    path("weights/", WeightProfileApi.as_view(), name="weights"),
    path("metrics/repurchase/", RepurchaseApi.as_view(), name="repurchase"),
    path("targets/", TargetListApi.as_view(), name="target-list"),
    path("targets/status/", TargetStatusApi.as_view(), name="target-status"),
    path("targets/<int:pk>/", TargetDetailApi.as_view(), name="target-detail"),
    path("metrics/scores/", ScoreDistributionApi.as_view(), name="score-distribution"),
    path("metrics/dimensions/", DimensionsApi.as_view(), name="dimensions"),
    path(
        "metrics/complaint-categories/",
        ComplaintCategoriesApi.as_view(),
        name="complaint-categories",
    ),
    path("metrics/<str:metric>/", MetricDetailApi.as_view(), name="metric-detail"),
    *outreach_api_urlpatterns,
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "docs/",
        # Swagger UI's page carries one inline <style> block: allowed on this page only.
        csp_update({"style-src": ["'unsafe-inline'"]})(
            SpectacularSwaggerSplitView.as_view(url_name="api:schema")
        ),
        name="docs",
    ),
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
    path("", include("feedback.urls")),
    path("", include("surveys.outreach.urls")),
    path("", include("surveys.imports.urls")),
]

# Oversized requests get a clear 413 (csat/limits.py); other bad requests Django's page.
handler400 = "csat.limits.handler400"
