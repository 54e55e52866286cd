"""A manager reads the analysis page on the demo data: on a phone every table stays inside the
page (wide ones scroll in their card), and the Pareto's cumulative line is drawn over its bars."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from playwright.sync_api import Browser, Page

from tests.browser.support import ARTIFACTS

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
CUMULATIVE_ORANGE = (0xD9, 0x82, 0x2B)


def _manager_page(browser: Browser, live_server: Any, viewport: dict[str, int]) -> Page:
    page = browser.new_page(viewport=viewport, locale="zh-CN")
    page.context.add_cookies(
        [{"name": "django_language", "value": "zh-hans", "url": str(live_server)}]
    )
    page.goto(f"{live_server}/accounts/login/")
    page.fill("#id_username", "manager")
    page.fill("#id_password", "csat-demo")
    page.click("main button[type=submit]")
    page.wait_for_load_state()
    page.goto(f"{live_server}/dashboard/analysis/")
    page.wait_for_selector('canvas#chart-pareto[data-chart-ready="1"]')
    return page


@pytest.mark.django_db(transaction=True)
def test_analysis_on_a_phone_keeps_every_table_inside_the_page_and_the_line_over_the_bars(
    browser: Browser, live_server: Any
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    call_command("demo_data")

    # on a phone, in Chinese: nothing sticks out of the page
    page = _manager_page(browser, live_server, PHONE)
    page.screenshot(path=str(ARTIFACTS / "analysis-phone-zh.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    outside = page.evaluate(
        """() => [...document.querySelectorAll('main table')].filter(table => {
             const box = (table.closest('.table-scroll') || table).getBoundingClientRect();
             return box.right > window.innerWidth; }).length"""
    )
    assert outside == 0
    # and the Pareto's headings keep whole words: none runs to a letter a line (at most three)
    tallest = page.evaluate(
        """() => Math.max(...[...document.querySelectorAll('[data-testid=pareto-table] thead th')]
             .map(th => th.getBoundingClientRect().height))"""
    )
    assert tallest < 80
    # and the printable report too
    page.goto(f"{live_server}/dashboard/report/")
    page.screenshot(path=str(ARTIFACTS / "report-phone-zh.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.close()

    # on a desktop: the first point of the cumulative line is orange, not hidden by its bar
    page = _manager_page(browser, live_server, DESKTOP)
    pixel = page.evaluate(
        """() => {
             const canvas = document.getElementById('chart-pareto');
             const chart = window.Chart.getChart(canvas);
             const index = chart.data.datasets.findIndex(
               d => d.type === 'line' && d.label !== '80%');
             const point = chart.getDatasetMeta(index).data[0];
             const ratio = window.devicePixelRatio || 1;
             const data = canvas.getContext('2d').getImageData(
               Math.round(point.x * ratio), Math.round(point.y * ratio), 1, 1).data;
             return [data[0], data[1], data[2]]; }"""
    )
    assert all(abs(got - want) <= 40 for got, want in zip(pixel, CUMULATIVE_ORANGE, strict=True)), (
        pixel
    )
