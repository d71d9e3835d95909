"""The console in a real browser: Playwright drives the system Chromium against a real `reelforge serve`.

One server and one browser for the module (CI's time budget). The tests run in file order on one signed-in
page, as a newcomer would click through: generate in the playground, watch it, play it in the gallery,
tokens, a cancelled task's refund in the ledger, an operator's grant. Every request the page makes is
recorded, and the last test asserts none went to another host. Screenshots of each page go under the
module's temp dir (desktop, and 375 px in dark mode).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright import sync_api  # the test extra; never skipped: a missing browser stack fails the run

from tests.conftest import ServerProcess
from tests.helpers import eventually

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PAGES = ["overview", "playground", "jobs", "gallery", "tokens", "credits", "webhooks", "admin"]


@pytest.fixture(scope="module")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    instance = ServerProcess(tmp_path_factory.mktemp("console-server"), workers=1).start()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("console-screenshots")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.fail("the console tests need the system Chromium: scripts/install-system-packages installs it")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def requests_seen() -> list[str]:
    return []


@pytest.fixture(scope="module")
def page(browser: Any, console_server: ServerProcess, requests_seen: list[str]) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.on("request", lambda request: requests_seen.append(request.url))
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.set_default_timeout(20_000)
    yield tab
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def go(page: Any, server: ServerProcess, name: str) -> None:
    page.goto(f"{server.url}/#/{name}")
    page.wait_for_selector(f"section.page[data-page={name}]")


def test_sign_in_with_the_dev_key(page: Any, console_server: ServerProcess, shots: Path) -> None:
    page.goto(console_server.url + "/")
    page.wait_for_selector("input[name=key]")
    page.screenshot(path=str(shots / "signin.png"))
    page.fill("input[name=key]", "rf_not-a-key")
    page.click("button[type=submit]")
    page.wait_for_selector(".error .code")
    assert page.inner_text(".error .code") == "AUTH_FAILED"  # the API's code and message, shown

    page.fill("input[name=key]", console_server.key)
    page.click("button[type=submit]")
    page.wait_for_selector("section.page[data-page=overview]")
    assert "admin" in page.inner_text("#who")
    assert page.evaluate("sessionStorage.getItem('reelforge.key')") == console_server.key
    assert page.evaluate("localStorage.length") == 0  # the key is kept for the tab's session only


def test_playground_generates_a_draft_and_shows_its_progress(
    page: Any, console_server: ServerProcess, shots: Path
) -> None:
    go(page, console_server, "playground")
    page.select_option("#model", "agnes-video-v2.0")  # /v1/videos: multi-image and keyframes fields
    page.wait_for_selector("fieldset [name='extra_body.mode']")
    page.fill("[name=seconds]", "4")
    page.wait_for_function("() => document.querySelector('#price').dataset.credits === '4'")
    assert "/v1/videos" in page.inner_text("#snippet")
    page.select_option("#model", "t2v")
    page.fill("[name=prompt]", "A lighthouse at dusk, waves rolling in")
    page.select_option("[name=duration]", json.dumps(8))
    page.wait_for_function("() => document.querySelector('#price').dataset.credits === '8'")
    for tab in ("python", "openai", "mcp", "curl"):
        page.click(f"button[data-tab={tab}]")
    assert "/api/v1/generate/t2v" in page.inner_text("#snippet") and console_server.key not in page.inner_text(
        "#snippet"
    )
    page.screenshot(path=str(shots / "playground.png"), full_page=True)

    balance = console_server.services().keys.balance(console_server.key_id)
    page.click("#submit")
    page.wait_for_selector(".watch")
    seen: set[int] = set()

    def finished() -> bool:
        watch = page.query_selector(".watch .pct")
        if watch is not None:
            seen.add(int(watch.get_attribute("data-progress")))
        return page.query_selector(".watch[data-status=succeeded]") is not None

    eventually(finished, timeout=120, interval=0.05, what="the playground's task succeeds")
    assert len([p for p in seen if 0 < p < 100]) >= 2, f"progress on screen did not move: {sorted(seen)}"
    assert page.get_attribute(".watch .pct", "data-progress") == "100"
    page.screenshot(path=str(shots / "playground-done.png"), full_page=True)
    assert console_server.services().keys.balance(console_server.key_id) == balance - 8  # the price shown


def test_the_gallery_plays_the_video(page: Any, console_server: ServerProcess, shots: Path) -> None:
    go(page, console_server, "gallery")
    page.wait_for_selector(".gallery video")
    page.eval_on_selector(".gallery video", "v => { v.muted = true; v.preload = 'auto'; v.load(); }")
    page.wait_for_function("() => document.querySelector('.gallery video').readyState >= 3", timeout=30_000)
    size = page.inner_text(".gallery article dl")
    assert "1280\u00d7720" in size and "24" in size and "8.00 s" in size
    href = page.get_attribute(".gallery a[data-action=download]", "href")
    download = httpx.get(href, timeout=30)
    assert download.status_code == 200 and download.headers["content-type"] == "video/mp4"
    page.screenshot(path=str(shots / "gallery.png"), full_page=True)


def test_tokens_create_rotate_revoke(page: Any, console_server: ServerProcess, shots: Path) -> None:
    go(page, console_server, "tokens")
    page.fill("#token-name", "ci")
    page.click("form button[type=submit]")
    page.wait_for_selector("#token-secret .secret-value")
    first = page.inner_text("#token-secret .secret-value")
    jobs = f"{console_server.url}/api/v1/jobs/nope"

    def status(secret: str) -> int:
        return httpx.get(jobs, headers={"authorization": f"Bearer {secret}"}).status_code

    assert status(first) == 404  # accepted: the job just does not exist
    token_id = first.split(".")[1]
    page.click(f"button[data-action=rotate][data-token='{token_id}']")
    page.wait_for_function(
        f"() => !document.querySelector('#token-secret .secret-value').textContent.includes({first!r})"
    )
    second = page.inner_text("#token-secret .secret-value")
    assert status(first) == 401 and status(second) == 404
    page.once("dialog", lambda dialog: dialog.accept())
    page.click(f"button[data-action=revoke][data-token='{token_id}']")
    page.wait_for_selector(f"button[data-action=rotate][data-token='{token_id}']", state="detached")
    assert status(second) == 401
    page.screenshot(path=str(shots / "tokens.png"), full_page=True)


def test_a_cancelled_task_shows_its_debit_and_refund(page: Any, console_server: ServerProcess, shots: Path) -> None:
    created = httpx.post(
        f"{console_server.url}/api/v1/generate/t2v_v3",
        headers={"key": console_server.key},
        json={"prompt": "a slow pan over mountains", "aspectRatio": "16:9", "duration": "20"},
    ).json()
    task_id = created["taskId"]
    go(page, console_server, "jobs")
    page.click(f"button[data-action=cancel][data-task='{task_id}']")
    page.wait_for_selector(f"[data-status=cancelled][data-task='{task_id}']", timeout=60_000)
    page.screenshot(path=str(shots / "jobs.png"), full_page=True)
    go(page, console_server, "credits")
    page.wait_for_selector(f"[data-reason=refund][data-task='{task_id}']")
    page.wait_for_selector(f"[data-reason=debit][data-task='{task_id}']")
    rows = {row["reason"]: row["amount"] for row in _ledger(console_server) if row["taskId"] == task_id}
    assert rows == {"debit": -200, "refund": 200}
    page.screenshot(path=str(shots / "credits.png"), full_page=True)


def _ledger(server: ServerProcess) -> list[dict[str, Any]]:
    return httpx.get(f"{server.url}/api/console/ledger", headers={"key": server.key}).json()["rows"]


def test_an_operator_grants_credits_to_another_key(page: Any, console_server: ServerProcess, shots: Path) -> None:
    other = console_server.new_key(credits=10, name="team-b")
    go(page, console_server, "admin")
    page.wait_for_selector(f"[data-grant='{other['id']}']")
    page.fill(f"[data-grant='{other['id']}']", "50")
    page.click(f"button[data-action=grant][data-key='{other['id']}']")
    page.wait_for_function(f"() => document.querySelector(\"[data-balance='{other['id']}']\").textContent === '60'")
    assert console_server.services().keys.balance(other["id"]) == 60
    page.screenshot(path=str(shots / "admin.png"), full_page=True)


def test_every_page_at_375px_in_dark_mode(browser: Any, console_server: ServerProcess, shots: Path) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 800}, color_scheme="dark")
    phone = context.new_page()
    try:
        phone.goto(console_server.url + "/")
        phone.fill("input[name=key]", console_server.key)
        phone.click("button[type=submit]")
        phone.wait_for_selector("section.page[data-page=overview]")
        for name in PAGES:
            phone.goto(f"{console_server.url}/#/{name}")
            phone.wait_for_selector(f"section.page[data-page={name}] h1")
            phone.wait_for_load_state("networkidle")
            width = phone.evaluate("document.documentElement.scrollWidth")
            assert width <= 376, f"{name} scrolls sideways at 375 px ({width} px wide)"
            phone.screenshot(path=str(shots / f"{name}-375-dark.png"), full_page=True)
        assert phone.evaluate("getComputedStyle(document.body).backgroundColor") != "rgb(246, 247, 251)"
    finally:
        context.close()


def test_the_keyboard_reaches_the_navigation(page: Any, console_server: ServerProcess) -> None:
    go(page, console_server, "overview")
    reached = set()
    for _ in range(25):
        page.keyboard.press("Tab")
        reached.add(page.evaluate("document.activeElement.dataset.page || document.activeElement.tagName"))
    assert {"playground", "jobs", "gallery", "admin"} <= reached


def test_the_page_made_no_request_to_another_host(
    page: Any, console_server: ServerProcess, requests_seen: list[str]
) -> None:
    for name in PAGES:
        go(page, console_server, name)
    page.goto(console_server.url + "/docs")
    page.wait_for_selector(".swagger-ui .info")
    page.goto(console_server.url + "/redoc")
    page.wait_for_function("() => document.querySelector('redoc')?.querySelector('h1, h2')", timeout=30_000)
    server = urlsplit(console_server.url).netloc
    elsewhere = {
        url
        for url in requests_seen
        if urlsplit(url).scheme in ("http", "https", "ws", "wss") and urlsplit(url).netloc != server
    }
    assert requests_seen and not elsewhere, f"requests to other hosts: {sorted(elsewhere)}"
