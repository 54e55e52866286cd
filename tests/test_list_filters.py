"""Every list filter refuses a value it does not know with a 400 that names the parameter and
the problem, and lists nothing: a mistyped link must not show everything as if it matched."""

from __future__ import annotations

import html

from django.test import Client

from accounts.models import User
from feedback.models import ComplaintCategory, RootCause
from feedback.services import case_log_complaint
from surveys.models import Customer, Survey


def test_case_list_with_an_unknown_status_is_refused_naming_the_parameter(
    staff_client: Client, staff: User
) -> None:
    # given an open complaint of the staff member's team
    category = ComplaintCategory.objects.create(name="Late", root_cause=RootCause.PROCESS)
    case = case_log_complaint(category=category, channel="phone", summary="x", agent=staff)
    # when the list is asked for a status that does not exist
    response = staff_client.get("/cases/?status=bogus")
    page = html.unescape(response.content.decode())
    # then it is refused, naming the parameter and the statuses it takes, and lists no case
    assert response.status_code == 400
    assert "status: “bogus” is not one of open, resolved, withdrawn, all." in page
    assert f'href="/cases/{case.pk}/"' not in page
    assert "No cases here." not in page
    # and the known values still list it
    assert f'href="/cases/{case.pk}/"' in staff_client.get("/cases/?status=all").content.decode()
    assert f'href="/cases/{case.pk}/"' in staff_client.get("/cases/").content.decode()


def test_customer_list_with_an_unknown_segment_is_refused_naming_the_parameter(
    staff_client: Client,
) -> None:
    Customer.objects.create(external_id="C-1", name="Wang Fang", segment="normal")
    response = staff_client.get("/customers/?segment=vip")
    page = html.unescape(response.content.decode())
    assert response.status_code == 400
    assert "segment: “vip” is not one of high_value, normal, churn_risk." in page
    assert "Wang Fang" not in page
    assert "Wang Fang" in staff_client.get("/customers/?segment=normal").content.decode()


def test_import_list_with_an_unknown_survey_is_refused_naming_the_parameter(
    staff_client: Client, nps_survey: Survey
) -> None:
    response = staff_client.get("/imports/?survey=999999")
    page = html.unescape(response.content.decode())
    assert response.status_code == 400
    assert "survey: no survey has the id “999999”." in page
    assert staff_client.get(f"/imports/?survey={nps_survey.pk}").status_code == 200
    assert staff_client.get("/imports/?survey=abc").status_code == 400


def test_the_next_page_of_a_searched_customer_list_keeps_the_search_and_the_segment(
    staff_client: Client,
) -> None:
    Customer.objects.bulk_create(
        Customer(external_id=f"C-{number:03d}", name=f"Li {number}", segment="normal")
        for number in range(101)
    )
    page = html.unescape(staff_client.get("/customers/?q=Li&segment=normal").content.decode())
    assert 'href="?q=Li&segment=normal&page=2"' in page
    assert "Page 1 of 2" in page
    second = staff_client.get("/customers/?q=Li&segment=normal&page=2").content.decode()
    assert "C-100" in second
