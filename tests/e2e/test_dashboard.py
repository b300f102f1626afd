"""The dashboard in a real headless Chromium against a real `coldshift serve`: sign in, watch
a migration's copy progress and a DeH's NUMA bars change without a reload, read a FAIL's
reason; and over plain HTTP, what a session may and may not see."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from selenium import webdriver

from coldshift.catalog.loader import load_catalog
from coldshift.dashboard.sessions import SESSION_SECONDS, session_key
from tests.e2e import admin, sdk
from tests.e2e.browser import ARTIFACTS, chromium, http_session, login_form, sign_in
from tests.e2e.conftest import Region, region_on
from tests.e2e.harness import ADMIN, ALPHA, BETA, TEST_CATALOG, wait_for

#: a 40 GB root disk copies in 4 s, its progress saved about every second
COPY_MB_PER_S = 10240


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    text = TEST_CATALOG.read_text().replace(
        "disk_copy_mb_per_s = 0", f"disk_copy_mb_per_s = {COPY_MB_PER_S}"
    )
    path = tmp_path_factory.mktemp("dashboard-catalog") / "catalog.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory, catalog: Path) -> Iterator[Region]:
    with region_on("sqlite", tmp_path_factory.mktemp("dashboard"), catalog) as region:
        region.start()
        yield region


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    driver = chromium()
    try:
        yield driver
    finally:
        driver.quit()


# The page replaces its live fragments while we read them; each read is therefore one script
# run inside the page's event loop, which no fragment swap can interleave with (reading element
# by element through WebDriver raced with the swaps: a stale element reference).
_TEXTS = "return Array.from(document.querySelectorAll(arguments[0]), e => e.innerText.trim())"
_ATTRS = (
    "return Array.from(document.querySelectorAll(arguments[0]),"
    " e => e.getAttribute(arguments[1]) || '')"
)


def texts_of(browser: webdriver.Chrome, css: str) -> list[str]:
    return list(browser.execute_script(_TEXTS, css))


def text_of(browser: webdriver.Chrome, css: str) -> str:
    return " ".join(texts_of(browser, css))


def deh_vcpus(browser: webdriver.Chrome, host_id: str) -> list[str]:
    """The DeH's vCPU bars' labels, node by node (as the page shows them now)."""
    return texts_of(browser, f'[data-host="{host_id}"] [data-metric="vcpus"]')


def copy_shown(browser: webdriver.Chrome, job_id: str) -> int | None:
    css = f'[data-job="{job_id}"] [data-copy]'
    found = browser.execute_script(_ATTRS, css, "data-copy")
    return int(found[0] or 0) if found else None


def test_a_migration_seen_live_in_the_browser(region: Region, browser: webdriver.Chrome) -> None:
    ecs, deh = region.ecs(), region.deh()
    (host_id,) = sdk.allocate(deh, name="dash-deh")
    web, db = sdk.stopped_servers(ecs, name="alpha-web", count=2)
    admin.fail_next(region.url, "copy_disks")
    failed = sdk.migrate_and_wait(ecs, db, host_id)
    assert failed.status == "FAIL"
    reason = failed.entities.sub_jobs[0].fail_reason
    assert reason

    sign_in(browser, region.url, ALPHA)
    assert "alpha" in text_of(browser, "#who")
    assert reason in text_of(browser, "#failed [data-reason]")
    assert deh_vcpus(browser, host_id) == ["vCPU 0/8", "vCPU 0/8"]
    browser.execute_script("window.coldshiftNotReloaded = true")

    parent = sdk.migrate(ecs, web, host_id)
    job_id = sdk.job(ecs, parent).entities.sub_jobs[0].job_id
    seen: set[int] = set()
    shot = False
    deadline = time.monotonic() + 30
    while len([p for p in seen if p < 100]) < 2 and time.monotonic() < deadline:
        shown = copy_shown(browser, job_id)
        if shown is not None:
            if not seen:
                assert "copy_disks" in text_of(browser, f'[data-job="{job_id}"] [data-step]')
            seen.add(shown)
        if len(seen - {0}) == 2 and not shot:  # mid-copy, after a live update
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            shot = browser.save_screenshot(str(ARTIFACTS / "dashboard.png"))
        time.sleep(0.05)
    assert len([p for p in seen if p < 100]) >= 2, f"copy progress shown: {sorted(seen)}"
    assert "incoming" in text_of(browser, f'[data-host="{host_id}"] [data-server="{web}"]')

    assert sdk.wait_job(ecs, parent).status == "SUCCESS"
    wait_for(
        lambda: sorted(deh_vcpus(browser, host_id)) == ["vCPU 0/8", "vCPU 2/8"],
        15,
        "the DeH's bars to show the migrated server",
    )
    wait_for(lambda: not texts_of(browser, f'[data-job="{job_id}"]'), 5)
    assert browser.execute_script("return window.coldshiftNotReloaded === true")
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000


def test_a_session_sees_its_own_project_only(region: Region) -> None:
    (beta_server,) = sdk.create_and_wait(region.ecs(BETA), name="beta-private-db")
    (alpha_server,) = sdk.create_and_wait(region.ecs(ALPHA), name="alpha-own-vm")
    with http_session(region.url, ALPHA) as alpha, http_session(region.url, ADMIN) as root:
        for path in ("/dashboard", "/dashboard/live/hosts", "/dashboard/live/jobs"):
            seen = alpha.get(f"{region.url}{path}").text
            assert beta_server not in seen and "beta-private-db" not in seen
            assert BETA[0] not in seen
            assert "pool-az-a-t1" not in seen  # pool host names are for admins
        assert alpha_server in alpha.get(f"{region.url}/dashboard/live/hosts").text
        everything = root.get(f"{region.url}/dashboard/live/hosts").text
        assert beta_server in everything and alpha_server in everything
        assert "pool-az-a-t1-001" in everything


def test_a_wrong_key_never_gets_a_session(region: Region) -> None:
    with httpx.Client(timeout=10) as client:
        token = login_form(client, region.url)
        for ak, sk in ((ALPHA[1], "not-the-secret"), ("NOSUCHKEY", ALPHA[2]), (ALPHA[1], "")):
            form = {"csrf": token, "access_key": ak, "secret_key": sk}
            response = client.post(f"{region.url}/dashboard/login", data=form)
            assert response.status_code == 401
            assert "refused" in response.text
            assert "coldshift_session" not in response.headers.get("set-cookie", "")
        # the right key without the sign-in form's token is refused too (login CSRF)
        form = {"csrf": "guessed", "access_key": ALPHA[1], "secret_key": ALPHA[2]}
        response = client.post(f"{region.url}/dashboard/login", data=form)
        assert response.status_code == 403
        assert "coldshift_session" not in client.cookies
        assert client.get(f"{region.url}/dashboard/live/jobs").status_code == 401


class _Signed300SecondsPastExpiry(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(time.time()) - SESSION_SECONDS - 300


def test_a_forged_or_expired_cookie_is_refused(region: Region) -> None:
    key = session_key(load_catalog(str(region.catalog)))
    salt = "coldshift-dashboard-session"
    with http_session(region.url, ALPHA) as good:
        payload = URLSafeTimedSerializer(key, salt=salt).loads(good.cookies["coldshift_session"])
    cookies = {
        "forged": URLSafeTimedSerializer(b"guessed key", salt=salt).dumps(payload),
        "expired": URLSafeTimedSerializer(key, salt=salt, signer=_Signed300SecondsPastExpiry).dumps(
            payload
        ),
        "tampered": good.cookies["coldshift_session"].replace(".", ".x", 1),
        "another key's": URLSafeTimedSerializer(key, salt=salt).dumps(
            {**payload, "ak": BETA[1]}  # the secret's fingerprint is alpha's
        ),
    }
    for what, cookie in cookies.items():
        with httpx.Client(timeout=10, cookies={"coldshift_session": cookie}) as client:
            assert client.get(f"{region.url}/dashboard/live/jobs").status_code == 401, what
            assert 'id="signin"' in client.get(f"{region.url}/dashboard").text, what
    # the same payload signed now is accepted: the refusals above were the signature's
    fresh = URLSafeTimedSerializer(key, salt=salt).dumps(payload)
    with httpx.Client(timeout=10, cookies={"coldshift_session": fresh}) as client:
        assert client.get(f"{region.url}/dashboard/live/jobs").status_code == 200


def test_sign_out_needs_the_sessions_csrf_token(region: Region) -> None:
    with http_session(region.url, ALPHA) as client:
        refused = client.post(f"{region.url}/dashboard/logout", data={"csrf": "guessed"})
        assert refused.status_code == 403
        assert client.get(f"{region.url}/dashboard/live/jobs").status_code == 200
        page = client.get(f"{region.url}/dashboard").text
        token = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        done = client.post(f"{region.url}/dashboard/logout", data={"csrf": token})
        assert done.status_code == 303
        assert client.get(f"{region.url}/dashboard/live/jobs").status_code == 401


def _csrf(client: httpx.Client, url: str) -> str:
    page = client.get(f"{url}/dashboard").text
    return page.split('name="csrf" value="', 1)[1].split('"', 1)[0]


def _what_if(client: httpx.Client, url: str, server_id: str, target: str = "") -> str:
    form = {"csrf": _csrf(client, url), "server_id": server_id, "target": target}
    response = client.post(f"{url}/dashboard/what-if", data=form)
    assert response.status_code == 200, response.text
    return response.text.split('id="what-if-answer"', 1)[1].split("</div>", 1)[0]


def test_the_what_if_form_answers_as_the_api_does_and_changes_nothing(region: Region) -> None:
    (server_id,) = sdk.stopped_servers(region.ecs(ALPHA), name="what-if-vm")
    (deh_id,) = sdk.allocate(region.deh(ALPHA), name="what-if-deh")
    (beta_server,) = sdk.create_and_wait(region.ecs(BETA), name="beta-what-if")
    with http_session(region.url, ALPHA) as alpha, http_session(region.url, ADMIN) as root:
        refused = alpha.post(
            f"{region.url}/dashboard/what-if", data={"csrf": "guessed", "server_id": server_id}
        )
        assert refused.status_code == 403
        fits = _what_if(alpha, region.url, server_id, deh_id)
        assert "fits on what-if-deh, NUMA node(s) 0" in fits
        # the pool to the pool: refused as the migrate call refuses it
        assert "Refused:" in _what_if(alpha, region.url, server_id)
        # another project's server is unknown to alpha, known to an admin
        assert "Refused:" in _what_if(alpha, region.url, beta_server, deh_id)
        assert "what-if-deh" not in _what_if(alpha, region.url, beta_server, deh_id)
        assert "fits on" in _what_if(root, region.url, server_id, deh_id)
    # nothing changed: the server idle where it was, the DeH empty
    view = sdk.show(region.ecs(ALPHA), server_id)
    assert (view.status, view.os_ext_st_stask_state) == ("SHUTOFF", None)
    deh = sdk.show_deh(region.deh(ALPHA), deh_id)
    assert deh.available_vcpus == deh.host_properties.vcpus
