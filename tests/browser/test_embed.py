"""The embed snippet on another site, in Chromium: the script inserts the survey's frame, a
customer answers inside it (channel "embed"), and a site not among the survey's embedding
sites gets no survey in its frame."""

from __future__ import annotations

import html
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.test import Client
from playwright.sync_api import Browser, expect

from surveys.models import Channel, Response, Survey
from surveys.services import survey_create_nps
from tests.browser.support import ARTIFACTS


class _Site:
    """Another website (its own origin): serves `page` at /."""

    page = ""


@pytest.fixture
def other_site() -> Iterator[tuple[str, type[_Site]]]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = _Site.page.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", _Site
    finally:
        server.shutdown()


def _script_snippet(staff_client: Client, survey: Survey) -> str:
    """The script snippet as staff copy it from the survey's embed page."""
    page = staff_client.get(f"/surveys/{survey.pk}/embed/").content.decode()
    found = re.search(r'<textarea id="snippet-script"[^>]*>(.*?)</textarea>', page, re.S)
    assert found is not None
    return html.unescape(found.group(1))


@pytest.mark.django_db(transaction=True)
def test_the_script_snippet_embeds_the_survey_only_on_the_sites_it_names(
    browser: Browser,
    live_server: Any,
    staff_client: Client,
    settings: Any,
    other_site: tuple[str, type[_Site]],
) -> None:
    origin, site = other_site
    settings.SITE_URL = live_server.url
    allowed = survey_create_nps(title="Embedded", nps_question="Would you recommend us?")
    allowed.embed_origins = [origin]
    allowed.save()
    elsewhere = survey_create_nps(title="Elsewhere", nps_question="Would you recommend us?")
    elsewhere.embed_origins = ["https://shop.example.com"]
    elsewhere.save()
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(locale="en-US")
    page.set_default_timeout(15_000)

    # given a shop page on another origin carrying the survey's script snippet
    snippet = _script_snippet(staff_client, allowed)
    site.page = f"<!doctype html><title>Shop</title><h1>Our shop</h1>{snippet}"
    page.goto(origin + "/")

    # when the customer answers inside the frame the script inserted
    frame = page.frame_locator('iframe[title="Embedded"]')
    frame.get_by_role("radio", name="9", exact=True).check()
    frame.get_by_role("button", name="Send my answers").click()
    expect(frame.get_by_role("heading", name="Thank you!")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "embed-answered.png"), full_page=True)

    # then the response is stored once, on the embedded widget's channel
    stored = Response.objects.get()
    assert (stored.survey_id, stored.channel) == (allowed.pk, Channel.EMBED)

    # and a survey that names other sites, its script pasted in a page's head, gets its frame
    # at the end of the page, where the browser refuses to show it
    snippet = _script_snippet(staff_client, elsewhere)
    site.page = f"<!doctype html><head><title>Shop</title>{snippet}</head><h1>Our shop</h1>"
    with page.expect_console_message(lambda message: "frame-ancestors" in message.text) as refusal:
        page.goto(origin + "/")
    expect(page.locator('body > iframe[title="Elsewhere"]')).to_have_count(1)
    # Chromium refuses to show the survey's page there, naming the policy that forbids it
    assert "https://shop.example.com" in refusal.value.text
    assert Response.objects.count() == 1
