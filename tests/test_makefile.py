"""`make run PORT=...`: the links the app prints (QR codes, embed snippets, invitations) point
at the port it serves."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _make_variable(name: str, *arguments: str, environment: dict[str, str] | None = None) -> str:
    """The value `make` gives an exported variable for the recipes, read without running one."""
    result = subprocess.run(
        ["make", "--no-print-directory", "-s", "-f", "Makefile", "-f", "-", *arguments, "show"],
        input=f"show:\n\t@printf '%s' \"$${name}\"\n",
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", **(environment or {})},
    )
    return result.stdout


def test_make_run_on_another_port_makes_links_to_that_port() -> None:
    assert _make_variable("SITE_URL", "PORT=8123") == "http://127.0.0.1:8123"


def test_make_run_keeps_a_site_url_given_in_the_environment() -> None:
    site = _make_variable(
        "SITE_URL", "PORT=8123", environment={"SITE_URL": "https://csat.example.com"}
    )

    assert site == "https://csat.example.com"
