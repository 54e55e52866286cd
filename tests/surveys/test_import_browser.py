"""A staff member imports a panel export in Chromium: upload, map, watch the check and the
import progress on the page (import.js polls), confirm, see the result."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from accounts.models import User
from surveys.imports import services
from surveys.imports.models import ImportJob
from surveys.models import Response, Survey
from tests.browser.support import ARTIFACTS
from tests.conftest import PASSWORD

PANEL = (
    "response_id,submitted_at,score,why\n"
    "P-1,2025-05-01 10:00,10,Fast and friendly\n"
    "P-2,2025-05-01 11:00,3,Nobody called back\n"
    "P-3,2025-05-01 12:00,eleven,\n"
)


def _log_in(page: Page, base_url: str, user: User) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")


@pytest.mark.django_db(transaction=True)
def test_staff_imports_a_panel_export_and_the_page_follows_each_step(
    browser: Browser,
    live_server: object,
    staff: User,
    nps_survey: Survey,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the test plays the worker: it runs each task's service when the page has asked for it
    monkeypatch.setattr(services, "_enqueue", lambda step, job_id: None)
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1200, "height": 900}, locale="en-US")
    _log_in(page, str(live_server), staff)

    page.goto(f"{live_server}/imports/")
    page.get_by_label("The file holds").select_option("responses")
    page.get_by_label("Survey", exact=True).select_option(label=nps_survey.title)
    page.get_by_label("CSV or XLSX file").set_input_files(
        {"name": "panel.csv", "mimeType": "text/csv", "buffer": PANEL.encode()}
    )
    page.get_by_role("button", name="Upload and map the columns").click()

    expect(page.get_by_role("heading", name="Map the columns")).to_be_visible()
    page.get_by_label("score").select_option(label="Q1. How likely are you to recommend us? *")
    page.get_by_label("why").select_option(label="Q2. Why?")
    page.screenshot(path=str(ARTIFACTS / "import-mapping.png"), full_page=True)
    page.get_by_role("button", name="Check every row").click()
    expect(page.get_by_role("heading", name="Checking every row")).to_be_visible()

    job = ImportJob.objects.get()
    services.import_job_validate(job.pk)

    # import.js sees the new status and shows the checked rows without a click
    expect(page.get_by_role("heading", name="Every row checked")).to_be_visible(timeout=15_000)
    expect(page.get_by_test_id("import-counts")).to_contain_text("2 rows can be imported")
    expect(page.get_by_test_id("import-problems")).to_contain_text(
        "Choose a whole number from 0 to 10."
    )
    page.screenshot(path=str(ARTIFACTS / "import-checked.png"), full_page=True)
    page.get_by_role("button", name="Import 2 rows").click()
    expect(page.get_by_test_id("import-status")).to_have_text("Queued")

    services.import_job_run(job.pk)

    expect(page.get_by_test_id("import-result")).to_contain_text("2 rows imported", timeout=15_000)
    page.screenshot(path=str(ARTIFACTS / "import-done.png"), full_page=True)
    assert sorted(Response.objects.values_list("import_key", "channel")) == [
        ("P-1", "import"),
        ("P-2", "import"),
    ]
