"""QR codes: printable PNG and SVG, and scans recorded with channel qr and their touchpoint."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urlsplit

import pytest
from django.test import Client

from surveys.models import Response, Survey, Touchpoint
from surveys.qr import qr_link, qr_source_read
from tests.surveys.builders import full_answers, multi_kind_survey


@pytest.fixture
def survey(db: None) -> Survey:
    return multi_kind_survey()


@pytest.fixture
def counter(db: None) -> Touchpoint:
    return Touchpoint.objects.create(code="store-counter", name="Store counter")


def test_staff_downloads_png_and_svg_codes(
    staff_client: Client, survey: Survey, counter: Touchpoint
) -> None:
    query = f"touchpoint={counter.pk}&location=Store+12"

    png = staff_client.get(f"/surveys/{survey.pk}/qr.png?{query}&download=1")
    svg = staff_client.get(f"/surveys/{survey.pk}/qr.svg?{query}")

    assert (png.status_code, png["Content-Type"]) == (200, "image/png")
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert png["Content-Disposition"] == f'attachment; filename="survey-{survey.pk}-qr.png"'
    assert (svg.status_code, svg["Content-Type"]) == (200, "image/svg+xml")
    assert b"<svg" in svg.content
    assert b"<script" not in svg.content


def test_printable_page_shows_the_code_caption_and_location(
    staff_client: Client, survey: Survey, counter: Touchpoint
) -> None:
    page = staff_client.get(f"/surveys/{survey.pk}/qr/?touchpoint={counter.pk}&location=Store+12")

    html = page.content.decode()
    assert page.status_code == 200
    assert (
        f'src="/surveys/{survey.pk}/qr.svg?touchpoint={counter.pk}&amp;location=Store+12"' in html
    )
    assert "Scan to tell us how we did" in html
    assert '<p class="location">Store 12</p>' in html
    assert "css/qr.css" in html


def test_a_location_label_that_is_too_long_is_refused(staff_client: Client, survey: Survey) -> None:
    page = staff_client.get(f"/surveys/{survey.pk}/qr.png?location={'x' * 121}")

    assert page.status_code == 400
    assert "location: Ensure this value has at most 120 characters" in page.content.decode()


def test_outsiders_get_no_code(client: Client, survey: Survey) -> None:
    response = client.get(f"/surveys/{survey.pk}/qr.png")

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next=/surveys/{survey.pk}/qr.png"


def test_scanning_the_code_records_channel_qr_touchpoint_and_location(
    client: Client, survey: Survey, counter: Touchpoint
) -> None:
    link = urlsplit(qr_link(survey, counter, "Store 12"))
    page = client.get(f"{link.path}?{link.query}").content.decode()
    src = re.search(r'name="src" value="([^"]+)"', page)
    assert src is not None

    response = client.post(
        link.path, {"src": unescape(src.group(1)), "submission_key": "k", **full_answers(survey)}
    )

    assert response.status_code == 302
    stored = Response.objects.get()
    assert (stored.channel, stored.touchpoint, stored.source_label) == ("qr", counter, "Store 12")


def test_a_forged_or_foreign_source_falls_back_to_web(
    client: Client, survey: Survey, db: None, counter: Touchpoint
) -> None:
    other = multi_kind_survey()
    foreign = urlsplit(qr_link(other, counter, "Elsewhere")).query.removeprefix("src=")
    forged = foreign[:-3] + "abc"

    for index, src in enumerate([forged, foreign, "not-signed-at-all"]):
        response = client.post(
            f"/s/{survey.public_id}/",
            {"src": src, "submission_key": f"k{index}", **full_answers(survey)},
        )
        assert response.status_code == 302
    page = client.get(f"/s/{survey.public_id}/?src={forged}")

    assert page.status_code == 200
    assert 'name="src"' not in page.content.decode()
    assert (
        list(Response.objects.values_list("channel", "touchpoint", "source_label"))
        == [("web", None, "")] * 3
    )
    assert qr_source_read(survey, forged) is None
