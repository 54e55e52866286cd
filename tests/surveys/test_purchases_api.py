"""The purchases API: recorded with its outbox event in one transaction, idempotent by
external id, validated field by field."""

from __future__ import annotations

from decimal import Decimal

from accounts.models import User
from csat.models import OutboxEvent
from surveys.models import Purchase
from tests.surveys.outreach_fixtures import api_client, make_customer

URL = "/api/v1/purchases/"


def test_purchase_is_recorded_with_its_outbox_event(staff: User) -> None:
    customer = make_customer("C-1")

    response = api_client(staff).post(
        URL,
        {
            "customer_external_id": "C-1",
            "purchased_at": "2025-04-02T10:00:00+08:00",
            "amount": "199.90",
            "external_id": "order-1",
        },
        format="json",
    )

    purchase = Purchase.objects.get()
    assert response.status_code == 201
    assert response.json()["amount"] == "199.90"
    assert (purchase.customer, purchase.amount) == (customer, Decimal("199.90"))
    assert list(OutboxEvent.objects.values_list("kind", "object_id")) == [
        ("purchase.recorded", purchase.pk)
    ]


def test_same_external_id_records_once_and_other_details_are_refused(staff: User) -> None:
    make_customer("C-1")
    client = api_client(staff)
    body = {
        "customer_external_id": "C-1",
        "purchased_at": "2025-04-02T10:00:00+08:00",
        "amount": "10.00",
        "external_id": "order-1",
    }

    first = client.post(URL, body, format="json")
    again = client.post(URL, body, format="json")
    other = client.post(URL, body | {"amount": "12.00"}, format="json")

    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 422)
    assert again.json()["id"] == first.json()["id"]
    assert other.json()["error"]["fields"] == {
        "external_id": ["Already used for a different purchase."]
    }
    assert Purchase.objects.count() == 1
    assert OutboxEvent.objects.count() == 1


def test_bad_fields_are_named_and_nothing_is_stored(staff: User) -> None:
    make_customer("C-1")
    client = api_client(staff)

    unknown = client.post(
        URL,
        {"customer_external_id": "nobody", "purchased_at": "2025-04-02T10:00:00Z"},
        format="json",
    )
    bad = client.post(
        URL,
        {"customer_external_id": "C-1", "purchased_at": "yesterday", "amount": "ten"},
        format="json",
    )
    negative = client.post(
        URL,
        {"customer_external_id": "C-1", "purchased_at": "2025-04-02T10:00:00Z", "amount": "-1"},
        format="json",
    )

    assert unknown.json()["error"]["fields"] == {
        "customer_external_id": ["No customer has this external id."]
    }
    assert sorted(bad.json()["error"]["fields"]) == ["amount", "purchased_at"]
    assert negative.json()["error"]["fields"] == {"amount": ["The amount cannot be negative."]}
    assert not Purchase.objects.exists()
    assert not OutboxEvent.objects.exists()
