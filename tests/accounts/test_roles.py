"""Each role's allowed and forbidden pages."""

from __future__ import annotations

import pytest
from django.test import Client

from surveys.models import Survey

STAFF_PAGES = ["/surveys/", "/surveys/new/"]
MANAGER_PAGES = ["/dashboard/"]
ADMIN_PAGES = ["/settings/teams/", "/admin/accounts/user/"]


@pytest.mark.parametrize("path", [*STAFF_PAGES, *MANAGER_PAGES, *ADMIN_PAGES, "/"])
def test_outsider_is_sent_to_log_in_from_every_staff_page(
    client: Client, db: None, path: str
) -> None:
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/") or response["Location"].startswith(
        "/admin/login/"
    )


@pytest.mark.parametrize("path", STAFF_PAGES)
def test_staff_opens_survey_pages(staff_client: Client, path: str) -> None:
    assert staff_client.get(path).status_code == 200


@pytest.mark.parametrize("path", [*MANAGER_PAGES, "/settings/teams/"])
def test_staff_cannot_open_dashboard_or_configuration(staff_client: Client, path: str) -> None:
    response = staff_client.get(path)

    assert response.status_code == 403
    assert b"Your role does not give access to this page" in response.content


def test_staff_cannot_open_django_admin(staff_client: Client) -> None:
    assert staff_client.get("/admin/accounts/user/").status_code == 302


@pytest.mark.parametrize("path", STAFF_PAGES + MANAGER_PAGES)
def test_manager_opens_dashboard_and_survey_pages(manager_client: Client, path: str) -> None:
    assert manager_client.get(path).status_code == 200


def test_manager_cannot_change_configuration(manager_client: Client) -> None:
    get = manager_client.get("/settings/teams/")
    post = manager_client.post("/settings/teams/", {"name": "Night shift"})

    assert get.status_code == 403
    assert post.status_code == 403
    assert manager_client.get("/admin/accounts/user/").status_code == 302


@pytest.mark.parametrize("path", STAFF_PAGES + MANAGER_PAGES + ADMIN_PAGES)
def test_admin_opens_every_page(admin_client_: Client, path: str) -> None:
    assert admin_client_.get(path).status_code == 200


def test_admin_creates_a_team_and_a_duplicate_name_is_refused(admin_client_: Client) -> None:
    created = admin_client_.post("/settings/teams/", {"name": "Night shift"})
    duplicate = admin_client_.post("/settings/teams/", {"name": "night shift"})

    assert created.status_code == 302
    assert duplicate.status_code == 400
    assert "A team with that name exists." in duplicate.content.decode()


def test_home_sends_managers_to_dashboard_and_staff_to_surveys(
    staff_client: Client, manager_client: Client
) -> None:
    assert staff_client.get("/")["Location"] == "/surveys/"
    assert manager_client.get("/")["Location"] == "/dashboard/"


def test_respondent_page_needs_no_log_in(client: Client, nps_survey: Survey) -> None:
    assert client.get(f"/s/{nps_survey.public_id}/").status_code == 200


def test_staff_cannot_read_metrics_api(staff_client: Client) -> None:
    response = staff_client.get("/api/v1/metrics/nps/")

    assert response.status_code == 403
    assert response.json() == {"error": {"message": "Your role does not allow this.", "fields": {}}}
