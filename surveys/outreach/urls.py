from __future__ import annotations

from django.urls import path

from surveys.apis import ResponseMarkApi
from surveys.outreach import apis, views

app_name = "outreach"

urlpatterns = [
    path("surveys/<int:pk>/sends/", views.send_list, name="send_list"),
    path("surveys/<int:pk>/sends/new/", views.send_create, name="send_create"),
    path("sends/<int:pk>/", views.send_detail, name="send_detail"),
    path("surveys/<int:pk>/responses/", views.response_list, name="response_list"),
    path("responses/<int:pk>/mark/", views.response_mark, name="response_mark"),
    path("customers/", views.customer_list, name="customer_list"),
    path("customers/new/", views.customer_create, name="customer_create"),
    path("u/<str:token>/", views.unsubscribe, name="unsubscribe"),
]

# Mounted under /api/v1/ with the other API routes (csat/urls.py).
api_urlpatterns = [
    path("customers/", apis.CustomerListApi.as_view(), name="customer-list"),
    path("customers/<int:pk>/", apis.CustomerDetailApi.as_view(), name="customer-detail"),
    path("purchases/", apis.PurchaseCreateApi.as_view(), name="purchase-create"),
    path("interactions/", apis.InteractionCreateApi.as_view(), name="interaction-create"),
    path("sms/receipts/", apis.SmsReceiptApi.as_view(), name="sms-receipt"),
    path("responses/<int:pk>/mark/", ResponseMarkApi.as_view(), name="response-mark"),
]
