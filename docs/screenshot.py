"""Take docs/dashboard.png for the README from a running `make run` (demo data, manager log-in):
the quarterly dashboard's table of every metric against its targets and the first trends."""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORT = {"width": 1280, "height": 1500}


def main(base_url: str) -> None:
    target = Path(__file__).resolve().parent / "dashboard.png"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(f"{base_url}/accounts/login/")
        page.fill("#id_username", "manager")
        page.fill("#id_password", "csat-demo")
        page.click("main button[type=submit]")
        page.wait_for_load_state()
        page.goto(f"{base_url}/dashboard/")
        page.wait_for_selector('canvas#trend-nps[data-chart-ready="1"]')
        page.screenshot(path=str(target))
        browser.close()
    print(f"wrote {target}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000")
