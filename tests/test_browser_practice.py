"""Practice in a real browser: the server started the way `make run` starts it (tests/appserver.py) over the real
bank with its real model, driven by Debian's headless Chromium through Playwright. Two learners in two browser
contexts see only their own progress; a checked answer shows its covered and missed points; the Anki deck
downloads. Screenshots go to tests/artifacts/ (gitignored): 20-practice-checked.png (light),
21-practice-checked-dark.png, 22-practice-rating-suggested.png, 23-practice-rated.png and
24-practice-interview-dark.png."""

from __future__ import annotations

import io
import sqlite3
import zipfile
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from appserver import serve_app
# the same marks and skip, the same Chromium launch (a fixture) and the same timings file
from test_browser import _record, browser, pytestmark  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
FIRST_TITLE = "What is attention, and why did it replace RNNs for sequence models?"  # the bank's first question
# Four of its key points in other words, one left out, and a mistake its Common mistakes section lists.
ANSWER = ("With attention, when the model produces each output token it can look straight at any position of the "
          "input, however far away it is. An RNN reads the sequence one step at a time, so information about "
          "distant tokens fades. Attention fixes that, and because nothing is sequential the training can run in "
          "parallel. Multi-head attention runs several of these in parallel. I think attention has O(n) complexity.")
ANSWER_BOX = 'textarea[aria-label="Your answer"]'

@pytest.fixture(scope="module")
def server(real_index, tmp_path_factory):
    """(base URL, progress database): the app over the real bank, its progress in a database of its own."""
    base = tmp_path_factory.mktemp("practice-served")
    with serve_app(real_index, ROOT / "content", base / "practice.json", base / "streamlit.log") as (url, _, _):
        yield url, base / "progress.db"  # appserver puts MLPREP_DATABASE beside the practice file


def _summary(page) -> str:
    line = page.get_by_text("Practising as", exact=False).first
    line.wait_for(timeout=90_000)
    return line.inner_text()


def _check(page) -> None:
    page.get_by_role("heading", name=FIRST_TITLE).wait_for(timeout=90_000)
    page.locator(ANSWER_BOX).fill(ANSWER)
    page.get_by_role("button", name="Check my answer").click()
    page.get_by_text("Coverage", exact=False).first.wait_for(timeout=60_000)


def test_two_learners_in_two_browsers_and_the_checked_answer(server, browser):
    url, database = server
    ARTIFACTS.mkdir(exist_ok=True)
    alice_ctx = browser.new_context(viewport={"width": 1280, "height": 2600})
    bob_ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
    try:
        alice = alice_ctx.new_page()
        alice.goto(f"{url}/?view=Practice&learner=alice")
        assert "New 15 · Learning 0 · Review 0" in _summary(alice)
        _check(alice)
        main = alice.locator('[data-testid="stMain"]')
        text = main.inner_text()
        # each key point marked, the words that cover it, the verdict, the known mistake, what to read next
        assert text.count("covered") >= 4 and text.count("missed") >= 2, text
        assert "Your words: “An RNN reads the sequence one step at a time" in text
        assert "sounds like a known mistake" in text and "O(n)" in text
        assert "Read next" in text and "What the check can and cannot judge" in text
        alice.wait_for_timeout(500)
        alice.screenshot(path=ARTIFACTS / "20-practice-checked.png", full_page=True)
        _record("practice_check", alice.get_by_text("Checked in", exact=False).first.inner_text())

        alice.get_by_role("button", name="Show the model answer").click()
        alice.get_by_text("How did it go?", exact=False).wait_for(timeout=30_000)
        kinds = {r: alice.get_by_role("button", name=r, exact=True).get_attribute("kind")
                 for r in ("Again", "Hard", "Good", "Easy")}
        # a known mistake repeated suggests Again: that one button is highlighted
        assert kinds == {"Again": "primary", "Hard": "secondary", "Good": "secondary", "Easy": "secondary"}
        alice.get_by_role("button", name="Easy", exact=True).scroll_into_view_if_needed()
        alice.screenshot(path=ARTIFACTS / "22-practice-rating-suggested.png")
        alice.get_by_role("button", name="Again", exact=True).click()
        alice.get_by_text("Recorded Again", exact=False).first.wait_for(timeout=30_000)
        alice.screenshot(path=ARTIFACTS / "23-practice-rated.png", full_page=True)

        # Bob, in another browser, names himself in the sidebar: none of Alice's progress is his.
        bob = bob_ctx.new_page()
        bob.goto(f"{url}/?view=Practice")
        box = bob.locator('[data-testid="stSidebar"] input[aria-label="Learner"]')
        box.wait_for(timeout=90_000)
        box.fill("bob")
        box.press("Enter")
        bob.get_by_text("Practising as bob", exact=False).first.wait_for(timeout=30_000)
        bob.wait_for_function("new URLSearchParams(location.search).get('learner') === 'bob'", timeout=30_000)
        assert "New 15 · Learning 0 · Review 0" in _summary(bob)
        bob.get_by_role("heading", name=FIRST_TITLE).wait_for(timeout=30_000)
        assert "Weak so far" not in bob.locator('[data-testid="stMain"]').inner_text()

        alice.reload()
        assert "New 14 · Learning 1 · Review 0" in _summary(alice)
        alice.get_by_text("Weak so far", exact=False).first.wait_for(timeout=30_000)
        assert parse_qs(urlparse(alice.url).query).get("learner") == ["alice"]
    finally:
        alice_ctx.close()
        bob_ctx.close()
    with sqlite3.connect(database) as conn:  # what the server recorded, read straight from its database
        rows = conn.execute("SELECT l.name, r.question_id, r.source FROM reviews r JOIN learners l "
                            "ON l.id = r.learner_id").fetchall()
    assert rows == [("alice", "attention-mechanism", "app")]


def test_checked_answer_in_the_dark_theme_and_the_anki_download(server, browser):
    url, _ = server
    ctx = browser.new_context(viewport={"width": 1280, "height": 2600}, color_scheme="dark",
                              accept_downloads=True)
    try:
        page = ctx.new_page()
        page.goto(f"{url}/?view=Practice&learner=dana&interview=2099-01-01")
        page.get_by_text("is more than five years away", exact=False).first.wait_for(timeout=90_000)
        _check(page)
        background = page.evaluate("getComputedStyle(document.querySelector('.stApp')).backgroundColor")
        assert background != "rgb(255, 255, 255)"
        page.wait_for_timeout(500)
        page.screenshot(path=ARTIFACTS / "21-practice-checked-dark.png", full_page=True)

        page.get_by_text("Take it with you", exact=False).click()
        with page.expect_download(timeout=60_000) as download:
            page.get_by_role("button", name="Download the bank (15 questions)").click()
        data = download.value.path().read_bytes()
        assert download.value.suggested_filename == "ml-interview-prep.apkg"
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            assert {"collection.anki2", "media"} <= set(z.namelist())

        day = date.today() + timedelta(days=20)  # the server's clock is the real one
        page.goto(f"{url}/?view=Practice&learner=dana&interview={day.isoformat()}")
        assert "reviews left before your interview" in _summary(page)
        assert page.locator('[data-testid="stSidebar"] [data-testid="stDateInput"] input').input_value() \
            == day.isoformat()
        page.screenshot(path=ARTIFACTS / "24-practice-interview-dark.png")
    finally:
        ctx.close()
