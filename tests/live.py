"""Helpers for end-to-end tests: real processes (Celery worker, web server) and HTTP clients."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> object:
    """Poll until `condition` returns a truthy value; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@contextlib.contextmanager
def process(
    args: list[str], env: dict[str, str], log: Path, ready: str, timeout: float = 60
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a process until the block ends; wait until its log shows `ready`."""
    with log.open("wb") as out:
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(
            lambda: ready in log.read_text(errors="replace") or proc.poll() is not None,
            timeout,
            f"{args[2:5]} to start",
        )
        if proc.poll() is not None:
            raise AssertionError(f"{args} exited early:\n{log.read_text(errors='replace')}")
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def celery_worker(
    env: dict[str, str], log: Path, queue: str = "celery"
) -> contextlib.AbstractContextManager[subprocess.Popen[bytes]]:
    return process(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "csat",
            "worker",
            "--pool=solo",
            "--loglevel=INFO",
            "-Q",
            queue,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        env,
        log,
        ready="ready.",
    )


def logged_in_session(base_url: str, username: str, password: str) -> requests.Session:
    session = requests.Session()
    session.get(f"{base_url}/accounts/login/", timeout=10)
    response = session.post(
        f"{base_url}/accounts/login/",
        data={
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": f"{base_url}/accounts/login/"},
        timeout=10,
    )
    assert response.status_code == 200, response.text[:500]
    assert "Log out" in response.text, response.text[:500]
    return session


def submit_nps(base_url: str, public_id: str, score: int) -> None:
    """Answer a survey as a customer would: open the link, pick the score, send."""
    respondent = requests.Session()
    page = respondent.get(f"{base_url}/s/{public_id}/", timeout=10)
    key = re.search(r'name="submission_key" value="([^"]+)"', page.text)
    field = re.search(r'type="radio" name="(q\d+)"', page.text)
    assert key, page.text[:500]
    assert field, page.text[:500]
    response = respondent.post(
        f"{base_url}/s/{public_id}/",
        data={
            "csrfmiddlewaretoken": respondent.cookies["csrftoken"],
            "submission_key": key.group(1),
            field.group(1): str(score),
        },
        headers={"Referer": f"{base_url}/s/{public_id}/"},
        timeout=10,
    )
    assert response.status_code == 200, response.text[:500]
    assert "Thank you!" in response.text, response.text[:500]


def dashboard_nps(session: requests.Session, base_url: str) -> tuple[str, int]:
    """The current quarter's NPS text and n as the manager's dashboard shows them."""
    page = session.get(f"{base_url}/dashboard/", timeout=10).text
    value = re.search(r'data-testid="nps-value">([^<]+)<', page)
    n = re.search(r'data-testid="nps-n">n = (\d+)<', page)
    assert value, page[:500]
    return value.group(1), int(n.group(1)) if n else 0


def base_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("DJANGO_SETTINGS_MODULE", "csat.settings")
    return env
