"""Debian's headless Chromium, driven through Debian's chromium-driver (Selenium), and the
dashboard's sign-in over plain HTTP for the tests that need no browser."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from tests.conftest import skip_unless_ci

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
#: where the tests leave what a person may want to look at (the screenshot)
ARTIFACTS = Path(os.environ.get("COLDSHIFT_TEST_ARTIFACTS", "test-artifacts"))


def chromium() -> webdriver.Chrome:
    """A headless Chromium; skipped where it is not installed (.ci/run installs it: in CI,
    a missing browser fails the test instead)."""
    missing = not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER))
    reason = f"needs Debian's chromium and chromium-driver ({CHROMIUM}, {CHROMEDRIVER})"
    skip_unless_ci(reason if missing else None, "the dashboard's browser tests")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.add_argument("--window-size=1400,1000")
    # the driver's path given: Selenium Manager never tries to download one
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def sign_in(browser: webdriver.Chrome, url: str, creds: tuple[str, str, str]) -> None:
    browser.get(f"{url}/dashboard")
    browser.find_element(By.ID, "access_key").send_keys(creds[1])
    browser.find_element(By.ID, "secret_key").send_keys(creds[2])
    browser.find_element(By.ID, "signin").click()
    # click() returns before the form's answer has loaded: wait for the dashboard itself
    WebDriverWait(browser, 30).until(lambda b: b.find_elements(By.ID, "who"))


def login_form(client: httpx.Client, url: str) -> str:
    """GET the sign-in page (which sets the sign-in cookie) and return its CSRF token."""
    page = client.get(f"{url}/dashboard")
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


@contextmanager
def http_session(url: str, creds: tuple[str, str, str]) -> Iterator[httpx.Client]:
    """A client signed in to the dashboard as the form does it."""
    with httpx.Client(timeout=10) as client:
        token = login_form(client, url)
        form = {"csrf": token, "access_key": creds[1], "secret_key": creds[2]}
        response = client.post(f"{url}/dashboard/login", data=form)
        assert response.status_code == 303, response.text
        assert "coldshift_session" in client.cookies
        yield client
