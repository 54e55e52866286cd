"""The weights page in Chromium as a Chinese admin sees it on a desktop screen."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from playwright.sync_api import Browser

from accounts.models import Role
from accounts.services import user_create
from metrics.services import weights_set
from surveys.models import Dimension
from tests.browser.support import ARTIFACTS
from tests.browser.test_staff_forms import PASSWORD, _log_in


@pytest.mark.django_db(transaction=True)
def test_the_chinese_change_log_headings_read_on_one_line_on_a_desktop(
    browser: Browser, live_server: Any
) -> None:
    # given the brief's healthcare weights, set twice (the first change has no "before")
    admin = user_create(username="ada.weights", password=PASSWORD, role=Role.ADMIN)
    names = {"speed": "响应速度", "skill": "技术能力", "emotion": "情感价值",
             "process": "流程体验", "outcome": "结果满意度"}  # fmt: skip
    for code, name in names.items():
        Dimension.objects.create(code=code, name=name)
    first = {"speed": 15, "skill": 25, "emotion": 30, "process": 20, "outcome": 10}
    weights_set(effective_from=date(2025, 1, 1), weights=first, user=admin)
    second = {"speed": 20, "skill": 25, "emotion": 25, "process": 20, "outcome": 10}
    weights_set(effective_from=date(2025, 7, 1), weights=second, user=admin)
    page = browser.new_page(locale="en-US", viewport={"width": 1280, "height": 900})
    _log_in(page, live_server, "ada.weights")
    page.context.add_cookies(
        [{"name": "django_language", "value": "zh-hans", "url": str(live_server)}]
    )
    # when the admin opens the weights page
    page.goto(f"{live_server}/settings/weights/")
    page.screenshot(path=str(ARTIFACTS / "weights-zh.png"), full_page=True)
    # then every heading of the change log sits on one line (no letter a line)
    for heading in ["时间", "操作人", "生效日期", "变更前", "变更后"]:
        cell = page.get_by_role("columnheader", name=heading, exact=True)
        lines = cell.evaluate(
            "e => { const r = document.createRange(); r.selectNodeContents(e);"
            " return new Set([...r.getClientRects()].map(b => Math.round(b.top))).size; }"
        )
        assert lines == 1, f"“{heading}” takes {lines} lines"
    # and so do the times and dates of each change
    for cell in page.get_by_test_id("weight-changes").locator("td.when").all():
        lines = cell.evaluate(
            "e => { const r = document.createRange(); r.selectNodeContents(e);"
            " return new Set([...r.getClientRects()].map(b => Math.round(b.top))).size; }"
        )
        assert lines == 1, f"“{cell.inner_text()}” takes {lines} lines"
