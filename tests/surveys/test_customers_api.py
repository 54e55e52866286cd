"""The customers API: create or update by external id, validated field by field; staff
pages to list and create customers."""

from __future__ import annotations

from django.test import Client

from accounts.models import User
from surveys.models import Customer
from tests.surveys.outreach_fixtures import api_client

URL = "/api/v1/customers/"


def test_staff_creates_a_customer_with_contact_details_and_consent(staff: User) -> None:
    response = api_client(staff).post(
        URL,
        {
            "external_id": "C-100",
            "name": "Han Meimei",
            "email": "han@example.com",
            "phone": "+86 138-0000-0002",
            "segment": "high_value",
            "language": "zh-hans",
            "consents_to_contact": False,
        },
        format="json",
    )

    customer = Customer.objects.get()
    assert response.status_code == 201
    assert response.json()["id"] == customer.pk
    assert (customer.name, customer.email, customer.phone) == (
        "Han Meimei",
        "han@example.com",
        "+8613800000002",
    )
    assert (customer.segment, customer.language, customer.consents_to_contact) == (
        "high_value",
        "zh-hans",
        False,
    )


def test_posting_a_known_external_id_updates_only_the_fields_given(staff: User) -> None:
    client = api_client(staff)
    client.post(URL, {"external_id": "C-1", "name": "Li", "segment": "normal"}, format="json")

    response = client.post(URL, {"external_id": "C-1", "segment": "churn_risk"}, format="json")

    customer = Customer.objects.get()
    assert response.status_code == 200
    assert (customer.name, customer.segment) == ("Li", "churn_risk")


def test_bad_fields_are_each_named_and_nothing_is_stored(staff: User) -> None:
    response = api_client(staff).post(
        URL,
        {
            "external_id": "C-1",
            "email": "not-an-email",
            "phone": "call me",
            "segment": "vip",
            "language": "fr",
        },
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["error"] == {
        "message": "The customer could not be saved.",
        "fields": {
            "email": ['"not-an-email" is not an email address.'],
            "phone": ["Enter a phone number of 6 to 15 digits, optionally starting with +."],
            "segment": ['Unknown segment "vip": choose one of high_value, normal, churn_risk.'],
            "language": ['Unknown language "fr": choose one of en, zh-hans.'],
        },
    }
    assert not Customer.objects.exists()


def test_missing_external_id_is_named(staff: User) -> None:
    response = api_client(staff).post(URL, {"name": "Nobody"}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"external_id": ["This field is required."]}


def test_unsubscribe_cannot_be_undone_through_the_api(staff: User) -> None:
    from django.utils import timezone

    Customer.objects.create(external_id="C-1", unsubscribed_at=timezone.now())

    api_client(staff).post(
        URL,
        {"external_id": "C-1", "consents_to_contact": True, "unsubscribed_at": None},
        format="json",
    )

    assert Customer.objects.get().unsubscribed_at is not None


def test_list_filters_by_segment_and_is_paginated(staff: User) -> None:
    Customer.objects.create(external_id="A", segment="high_value")
    Customer.objects.create(external_id="B", segment="normal")
    Customer.objects.create(external_id="C", segment="high_value")

    response = api_client(staff).get(URL, {"segment": "high_value", "limit": 1})

    assert response.status_code == 200
    assert response.json()["count"] == 2
    assert [row["external_id"] for row in response.json()["results"]] == ["A"]


def test_caller_without_the_permission_is_refused(db: None) -> None:
    outsider = User.objects.create_user(username="olly", password="x-y-z-123456")

    created = api_client(outsider).post(URL, {"external_id": "C-1"}, format="json")
    listed = api_client(outsider).get(URL)

    assert (created.status_code, listed.status_code) == (403, 403)
    assert not Customer.objects.exists()


def test_staff_create_a_customer_on_the_customers_page(staff_client: Client) -> None:
    page = staff_client.post(
        "/customers/new/",
        {
            "external_id": "C-9",
            "name": "<b>Wang</b>",
            "email": "wang@example.com",
            "phone": "",
            "segment": "normal",
            "language": "en",
            "consents_to_contact": "on",
        },
    )
    duplicate = staff_client.post(
        "/customers/new/",
        {"external_id": "C-9", "segment": "normal", "language": "en"},
    )
    listing = staff_client.get("/customers/", {"q": "wang"})

    assert page.status_code == 302
    assert duplicate.status_code == 400
    assert "Customer with this External id already exists." in duplicate.content.decode()
    assert "&lt;b&gt;Wang&lt;/b&gt;" in listing.content.decode()


def test_listing_customers_of_an_unknown_segment_is_refused_naming_the_parameter(
    staff: User,
) -> None:
    Customer.objects.create(external_id="C-1", name="Wang Fang", segment="normal")
    client = api_client(staff)

    refused = client.get(URL, {"segment": "vip"})
    listed = client.get(URL, {"segment": "normal"})

    assert refused.status_code == 400
    assert refused.json()["error"]["fields"] == {
        "segment": ["segment: “vip” is not one of high_value, normal, churn_risk."]
    }
    assert [row["external_id"] for row in listed.json()["results"]] == ["C-1"]
