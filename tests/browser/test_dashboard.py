"""A manager reads the quarterly dashboard on the demo data in Chromium: NPS against baseline
42, target 58 and benchmark 65, a filter, a drill-down, the XLSX download; no CSP violation."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from openpyxl import load_workbook
from playwright.sync_api import Browser, ConsoleMessage

from tests.browser.support import ARTIFACTS

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def _nps_cell(page: object, cell: str) -> str:
    locator = page.locator(f'tr[data-metric="nps"] td[data-cell="{cell}"]')  # type: ignore[attr-defined]
    return str(locator.inner_text()).strip()


@pytest.mark.django_db(transaction=True)
def test_manager_reads_the_demo_dashboard_filters_drills_down_and_downloads_xlsx(
    browser: Browser, live_server: object
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    call_command("demo_data")
    context = browser.new_context(viewport=DESKTOP, locale="en-US", accept_downloads=True)
    page = context.new_page()
    violations: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or message.type == "error":
            violations.append(message.text)

    page.on("console", on_console)

    # given the demo manager logs in
    page.goto(f"{live_server}/accounts/login/")
    page.fill("#id_username", "manager")
    page.fill("#id_password", "csat-demo")
    page.click("main button[type=submit]")
    page.wait_for_load_state()

    # when they open the quarterly dashboard
    page.goto(f"{live_server}/dashboard/")
    page.wait_for_selector('canvas#trend-nps[data-chart-ready="1"]')
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

    # then NPS stands against the brief's baseline 42, target 58 and benchmark 65
    assert _nps_cell(page, "baseline") == "42.0"
    assert _nps_cell(page, "annual_target") == "58.0"
    assert _nps_cell(page, "benchmark") == "65.0"
    assert _nps_cell(page, "status") in {"met", "missed", "in progress"}
    # and its card says which target is which
    card = page.get_by_test_id("nps-targets").inner_text()
    assert card.startswith("Quarter target ")
    assert "· Annual target 58.0 · Benchmark 65.0" in card
    actual = _nps_cell(page, "actual")
    assert actual.split()[0].replace(".", "").replace("-", "").isdigit()

    # when they keep only the email channel
    page.select_option("#f-channel", "email")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**channel=email**")
    page.wait_for_selector('canvas#trend-nps[data-chart-ready="1"]')
    assert page.locator("#f-channel").input_value() == "email"
    assert _nps_cell(page, "baseline") == "42.0"
    email_n = int(_nps_cell(page, "n"))
    page.screenshot(path=str(ARTIFACTS / "dashboard-email.png"), full_page=True)

    # and follow NPS down to the responses behind it
    page.click('[data-testid="drill-nps"]')
    page.wait_for_url("**/dashboard/responses/**")
    assert "channel=email" in page.url
    assert "metric=nps" in page.url
    assert page.get_by_test_id("drilldown-count").inner_text() == f"{email_n} rows"
    assert page.locator('[data-testid="drilldown-table"] tbody tr').count() == min(email_n, 50)
    page.screenshot(path=str(ARTIFACTS / "dashboard-drilldown.png"), full_page=True)

    # and download the dashboard's table as XLSX
    page.go_back()
    with page.expect_download() as download_info:
        page.click('[data-testid="export-targets-xlsx"]')
    target = ARTIFACTS / "dashboard-targets.xlsx"
    download_info.value.save_as(target)
    sheet = load_workbook(target).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    record = dict(zip(rows[0], next(row for row in rows if row[0] == "NPS"), strict=True))
    assert (record["Baseline"], record["Annual target"], record["Benchmark"]) == (42, 58, 65)
    assert record["n"] == email_n

    # the analysis view draws its charts too, under readable scale names
    page.goto(f"{live_server}/dashboard/analysis/?channel=email")
    page.wait_for_selector('canvas#chart-pareto[data-chart-ready="1"]')
    assert page.get_by_role("heading", name="NPS (0-10)", exact=True).count() == 2
    page.screenshot(path=str(ARTIFACTS / "dashboard-analysis.png"), full_page=True)
    # the current quarter's answers are inside their repurchase window: the page says so and
    # leads to the latest quarter whose windows have closed, with the same filter
    note = page.get_by_test_id("repurchase-window-note").inner_text()
    assert "90-day repurchase window" in note
    page.get_by_test_id("repurchase-closed-link").click()
    page.wait_for_url("**channel=email**")
    assert "period=" in page.url
    assert page.get_by_test_id("repurchase-window-note").count() == 0
    assert page.locator('[data-testid="repurchase-table"] td.num[data-value]').count() > 0
    page.screenshot(path=str(ARTIFACTS / "dashboard-analysis-closed.png"), full_page=True)

    # and on a phone the page does not scroll sideways (wide tables scroll in their box)
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server}/dashboard/")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=str(ARTIFACTS / "dashboard-phone.png"), full_page=True)

    assert violations == []
    context.close()
