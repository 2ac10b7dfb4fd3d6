"""Playwright in Debian's chromium against live_server; nothing is downloaded."""

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


# Playwright's sync API leaves an event loop running in the main thread for the session,
# so Django's async guard would refuse every later ORM call (test bodies, database
# teardown, even other test folders). Set here only, in the browser tests' conftest;
# tests that start subprocesses strip it (see tests/subprocess_env.py).
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but Debian's chromium is missing (make test installs it)")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "headless": True,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


# A busy machine may take many seconds over a page its idle self serves at once: wait for
# elements and navigations with a generous limit instead of Playwright's 30 s.
BUSY_MACHINE_TIMEOUT_MS = 120_000


@pytest.fixture(autouse=True)
def generous_timeouts(request):
    if "page" in request.fixturenames:
        page = request.getfixturevalue("page")
        page.set_default_timeout(BUSY_MACHINE_TIMEOUT_MS)
        page.set_default_navigation_timeout(BUSY_MACHINE_TIMEOUT_MS)


@pytest.fixture
def screenshot(page):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def log_in(page, live_server, username, password):
    """Log in through the login form and wait for the site's navigation."""
    page.goto(f"{live_server.url}/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_selector("nav[aria-label=Main]")
