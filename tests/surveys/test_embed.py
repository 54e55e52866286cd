"""The embedded survey: framable only by the survey's sites, responses with channel embed."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from csat.errors import ApplicationError
from surveys.builder import SurveySettings, survey_update
from surveys.models import Response, Survey
from tests.surveys.builders import full_answers, multi_kind_survey


@pytest.fixture
def survey(db: None) -> Survey:
    return multi_kind_survey(
        embed_origins=["https://shop.example.com", "https://help.example.com:8443/"]
    )


def test_embed_page_is_framable_only_by_the_configured_sites(
    client: Client, survey: Survey
) -> None:
    page = client.get(f"/e/{survey.public_id}/")

    assert page.status_code == 200
    assert "X-Frame-Options" not in page
    assert page["Content-Security-Policy"] == (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; base-uri 'none'; object-src 'none'; "
        "frame-ancestors https://shop.example.com https://help.example.com:8443"
    )
    assert f'action="/e/{survey.public_id}/"' in page.content.decode()


def test_embed_page_allows_its_own_empty_icon_so_the_console_shows_no_csp_violation(
    client: Client, survey: Survey
) -> None:
    page = client.get(f"/e/{survey.public_id}/")

    img_src = next(
        directive.split()[1:]
        for directive in page["Content-Security-Policy"].split("; ")
        if directive.startswith("img-src ")
    )
    assert '<link rel="icon" href="data:,">' in page.content.decode()
    assert "data:" in img_src


def test_a_survey_without_sites_cannot_be_framed(client: Client, db: None) -> None:
    survey = multi_kind_survey()

    page = client.get(f"/e/{survey.public_id}/")

    assert page["Content-Security-Policy"].endswith("frame-ancestors 'none'")


def test_other_pages_keep_x_frame_options_deny(client: Client, survey: Survey) -> None:
    assert client.get(f"/s/{survey.public_id}/")["X-Frame-Options"] == "DENY"


def test_answer_in_the_frame_is_recorded_as_embed_without_a_csrf_cookie(survey: Survey) -> None:
    # The browser withholds our cookies inside another site's frame: no CSRF token.
    client = Client(enforce_csrf_checks=True)
    page = client.get(f"/e/{survey.public_id}/").content.decode()
    key = re.search(r'name="submission_key" value="([^"]+)"', page)
    assert key is not None
    assert "csrfmiddlewaretoken" not in page

    first = client.post(
        f"/e/{survey.public_id}/", {"submission_key": key.group(1), **full_answers(survey)}
    )
    again = client.post(
        f"/e/{survey.public_id}/", {"submission_key": key.group(1), **full_answers(survey)}
    )

    assert first.status_code == again.status_code == 200
    assert "Thank you!" in first.content.decode()
    assert first["Content-Security-Policy"].endswith(
        "frame-ancestors https://shop.example.com https://help.example.com:8443"
    )
    assert list(Response.objects.values_list("channel", flat=True)) == ["embed"]


def test_staff_copy_the_iframe_and_script_snippets(staff_client: Client, survey: Survey) -> None:
    page = staff_client.get(f"/surveys/{survey.pk}/embed/").content.decode()

    assert f"&lt;iframe src=&quot;http://127.0.0.1:8000/e/{survey.public_id}/&quot;" in page
    assert "http://127.0.0.1:8000/static/js/embed.js" in page
    assert f"data-csat-survey=&quot;http://127.0.0.1:8000/e/{survey.public_id}/&quot;" in page


@pytest.mark.parametrize(
    ("origin", "shown"),
    [
        ("http://shop.example.com", "http://shop.example.com"),
        ("https://shop.example.com/page", "https://shop.example.com/page"),
        ("https://a.example; script-src *", "https://a.example; script-src *"),
        ("shop.example.com", "shop.example.com"),
    ],
)
def test_embedding_sites_must_be_https_origins(survey: Survey, origin: str, shown: str) -> None:
    with pytest.raises(ApplicationError) as error:
        survey_update(
            survey=survey,
            values=SurveySettings(title={"en": "Service check"}, embed_origins=["", origin]),
        )

    assert error.value.fields == {
        "embed_origins": [
            f'Line 2: "{shown}" is not an https origin like https://shop.example.com.'
        ]
    }
    survey.refresh_from_db()
    assert survey.embed_origins == ["https://shop.example.com", "https://help.example.com:8443"]
