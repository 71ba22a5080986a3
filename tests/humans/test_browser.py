"""A participant in headless Chromium, from a Prolific link to the completion redirect (real server, real browser)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from proceval.dataset import Dataset
from proceval.humans import StudyConfig, create_app
from proceval.humans.storage import StudyStore

from .conftest import ARTIFACTS, CHROMIUM, LiveServer

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK),
                                reason=f"no Chromium at {CHROMIUM}: source .ci/services.sh (apt-get install chromium)")


@pytest.fixture
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="Python playwright is not installed")
    with sync_api.sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield instance
        finally:
            instance.close()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"humans-{name}.png"), full_page=True)


def test_prolific_participant_in_chromium(browser: Any, dataset: Dataset, config: StudyConfig,
                                          sqlite_url: str) -> None:
    config = config.model_copy(update={"redirect_seconds": 0})
    app = create_app(dataset, config, sqlite_url)
    completion: list[str] = []
    with LiveServer(app) as server:
        # a phone-sized screen; Prolific's completion URL is answered here, never fetched from the internet
        context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
        context.route("https://app.prolific.com/**", lambda route: (completion.append(route.request.url),
                                                                     route.fulfill(status=200, body="done")))
        page = context.new_page()
        page.goto(f"{server.url}/?PROLIFIC_PID=60aa00bb11cc22dd33ee44ff&STUDY_ID=st1&SESSION_ID=se1")
        assert "Consent text." in page.content()
        shot(page, "1-consent")
        page.get_by_role("button", name="I agree to take part").click()
        page.get_by_role("button", name="Continue to a few check questions").click()
        # the required radio stops an empty submission in the browser itself
        page.get_by_role("button", name="Continue").click()
        assert "Check questions" in page.content()
        page.get_by_label("Read and answer").check()
        shot(page, "2-check")
        page.get_by_role("button", name="Continue").click()

        answered = 0
        reloaded = False
        while page.get_by_role("button", name="Next").count():
            text = page.content()
            if "Please choose 'blue'" in text:
                page.get_by_label("blue").check()
            elif "How permissible" in text:
                page.get_by_label("4").check()
            else:
                page.get_by_role("radio").first.check()
            if answered == 0:
                shot(page, "3-trial")
                page.get_by_label("Comment (optional)").fill("A comment with <tags> & ampersands")
            page.get_by_role("button", name="Next").click()
            answered += 1
            if answered == 3 and not reloaded:  # reload mid-study: same place, nothing lost or doubled
                before = page.get_by_text("Question 4 of").count()
                page.reload()
                assert before == page.get_by_text("Question 4 of").count() == 1
                reloaded = True
        shot(page, "4-demographics")
        page.get_by_label("Age").fill("41")
        page.get_by_label("Gender").select_option("non-binary")
        page.get_by_role("button", name="Continue").click()
        page.get_by_role("button", name="Finish").click()
        page.wait_for_url("https://app.prolific.com/**", timeout=10_000)
        shot(page, "5-redirected")
        context.close()
    assert completion == ["https://app.prolific.com/submissions/complete?cc=CODE123"]
    store = StudyStore(sqlite_url)
    [session] = store.sessions()
    assert session["stage"] == "completed" and session["participant"] == "60aa00bb11cc22dd33ee44ff"
    answers = list(store.iter_answers())
    assert [a["position"] for a in answers] == list(range(answered))
    assert answers[0]["comment"] == "A comment with <tags> & ampersands"
    assert all(a["correct"] for a in answers if a["kind"] == "check")
    store.close()
    assert (Path(ARTIFACTS) / "humans-3-trial.png").stat().st_size > 1000


def test_admin_page_in_chromium_and_a_copied_cookie_dies_at_logout(browser: Any, dataset: Dataset,
                                                                   config: StudyConfig, sqlite_url: str) -> None:
    assert config.admin_token is not None
    with LiveServer(create_app(dataset, config, sqlite_url)) as server:
        context = browser.new_context()
        page = context.new_page()
        page.goto(f"{server.url}/admin")
        page.get_by_label("Admin token").fill("not-the-token")
        page.get_by_role("button", name="Log in").click()
        assert page.get_by_role("alert").inner_text() == "That token is not right."
        page.get_by_label("Admin token").fill(config.admin_token)
        page.get_by_role("button", name="Log in").click()
        page.get_by_role("heading", name="Lists").wait_for()
        # 4 scenarios × 2 conditions × 2 questions over a 2-list Latin square: 8 items in each list
        assert page.locator("#lists tr td:nth-child(2)").all_inner_texts() == ["8", "8"]
        assert "built-in method" not in page.content()
        shot(page, "6-admin")
        [cookie] = [c for c in context.cookies() if c["name"] == "proceval_admin"]
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and config.admin_token not in cookie["value"]

        thief = browser.new_context()  # the cookie copied into another browser works... until logout
        thief.add_cookies([cookie])
        stolen = thief.new_page()
        stolen.goto(f"{server.url}/admin")
        assert stolen.get_by_role("heading", name="Lists").count() == 1
        page.get_by_role("button", name="Log out").click()
        assert page.get_by_label("Admin token").count() == 1
        stolen.goto(f"{server.url}/admin")
        assert stolen.get_by_label("Admin token").count() == 1 and stolen.get_by_role("heading", name="Lists").count() == 0
        thief.close()
        context.close()
