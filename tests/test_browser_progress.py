"""Issue 21 in a real browser, on a fixed clock (MLPREP_NOW): the newcomer's sequence with each count asserted,
the keyboard (Ctrl+Enter checks, 1-4 rate only outside a text box), the Progress view in light, dark and on a
390 px phone, who is practising on a phone without the sidebar, and the topic map within a phone's width.
Screenshots go to tests/artifacts/: 30-progress-light.png, 31-progress-dark.png, 32-progress-phone.png,
33-practice-phone.png, 34-map-phone.png, 35-map-readiness.png."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from appserver import serve_app
from test_browser import browser, pytestmark  # noqa: F401 (the Chromium launch: a fixture; the marks)
from test_browser_practice import ANSWER, ANSWER_BOX, FIRST_TITLE

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
NOW = "2026-12-06T09:00:00+00:00"  # the server's clock: a Sunday morning, UTC
INTERVIEW = "2026-12-20"  # two weeks on
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def server(real_index, tmp_path_factory):
    base = tmp_path_factory.mktemp("progress-served")
    with serve_app(real_index, ROOT / "content", base / "practice.json", base / "streamlit.log",
                   env_extra={"MLPREP_NOW": NOW}) as (url, _, _):
        seed(base / "progress.db")  # the database appserver names beside the practice file
        yield url


def seed(database: Path) -> None:
    """Three weeks of practice for the learner "viewer", so that every chart has something to show."""
    from ingest.content import load_bank
    from progress import open_store

    ids = [q.id for q in load_bank(ROOT / "content")]
    start = datetime.fromisoformat(NOW) - timedelta(days=21)
    with open_store(database) as store:
        for day in range(0, 21, 2):
            for k, qid in enumerate(ids[:8]):
                if (day + k) % 3:
                    rating = "again" if (day * 7 + k) % 5 == 0 else ("hard" if k == 3 else "good")
                    store.record_review("viewer", qid, rating, now=start + timedelta(days=day, minutes=3 * k),
                                        duration_ms=40_000 + 5_000 * k)


def summary(page) -> str:
    line = page.get_by_text("Practising as", exact=False).first
    line.wait_for(timeout=90_000)
    return line.inner_text()


def wait_text(page, text: str, timeout: int = 60_000) -> None:
    page.get_by_text(text, exact=False).first.wait_for(timeout=timeout)


def main_text(page) -> str:
    return page.locator('[data-testid="stMain"]').inner_text()


def page_fits(page, width: int) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= width


def test_the_newcomers_sequence_counts_and_keyboard(server, browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 2000}, timezone_id="UTC")
    try:
        page = ctx.new_page()
        page.goto(f"{server}/?view=Practice&learner=newcomer")
        first = summary(page)
        assert "New 15 · Learning 0 · Review 0; 15 new questions planned today" in first, first

        page.goto(f"{server}/?view=Practice&learner=newcomer&interview={INTERVIEW}")
        wait_text(page, "left before your interview")
        dated = summary(page)
        # the date changes the plan (two new a day), never the counts
        assert "New 15 · Learning 0 · Review 0; 2 new questions planned today" in dated, dated
        assert "14 practice days" in dated

        page.get_by_role("heading", name=FIRST_TITLE).wait_for(timeout=60_000)
        box = page.locator(ANSWER_BOX)
        box.fill(ANSWER)
        box.press("Control+Enter")  # checks the answer: no click on the button
        wait_text(page, "Coverage")
        assert "Ctrl+Enter in the box checks your answer" in main_text(page)

        page.get_by_role("button", name="Show the model answer").click()
        wait_text(page, "How did it go?")
        assert "1 Again, 2 Hard, 3 Good, 4 Easy" in main_text(page)
        box.focus()
        box.press("End")
        box.press("3")  # typed into the answer: never a rating
        page.wait_for_timeout(1500)
        assert "Recorded" not in main_text(page)
        page.evaluate("document.activeElement.blur()")
        page.keyboard.press("3")
        wait_text(page, "Recorded Good")
        after = summary(page)
        assert "New 14 · Learning 1 · Review 0" in after, after  # Good was a learning step, not a due review
        assert "Weak so far" not in main_text(page)  # a card just rated Good is never weak

        page.goto(f"{server}/?view=Progress&learner=newcomer&interview={INTERVIEW}")
        wait_text(page, "None: a question is weak when")  # the last of the page
        text = main_text(page)
        assert "New 14 · Learning 1 · Review 0" in text
        assert "1 review on 1 of the last" in text and "True retention: not yet measured" in text
    finally:
        ctx.close()


@pytest.mark.parametrize("scheme, viewport, name", [
    ("light", {"width": 1280, "height": 1000}, "30-progress-light.png"),
    ("dark", {"width": 1280, "height": 1000}, "31-progress-dark.png"),
    ("light", PHONE, "32-progress-phone.png"),
])
def test_the_progress_view_in_light_dark_and_on_a_phone(server, browser, scheme, viewport, name):
    ARTIFACTS.mkdir(exist_ok=True)
    ctx = browser.new_context(viewport=viewport, color_scheme=scheme, timezone_id="UTC")
    try:
        page = ctx.new_page()
        page.goto(f"{server}/?view=Progress&learner=viewer&interview={INTERVIEW}")
        wait_text(page, "Readiness per topic, weakest first")
        box = page.locator('input[aria-label="I have this many minutes a day (0: no limit)"]')
        box.fill("3")
        box.press("Enter")
        wait_text(page, "not enough to cover the bank before the interview")
        page.locator('[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg').nth(2) \
            .wait_for(timeout=60_000)
        assert page.locator('[data-testid="stVegaLiteChart"]').count() == 3
        if viewport is PHONE:
            assert page_fits(page, PHONE["width"]), "the page scrolls sideways on a phone"
            widths = page.locator('[data-testid="stVegaLiteChart"]').evaluate_all(
                "els => els.map(e => e.getBoundingClientRect().right)")
            assert max(widths) <= PHONE["width"], widths
        text = main_text(page)
        assert "New 7 · Learning" in text and "True retention:" in text and "not yet measured" not in text
        page.set_viewport_size({"width": viewport["width"], "height": 3000})  # the whole view in one picture
        page.wait_for_timeout(1500)
        page.screenshot(path=ARTIFACTS / name)
    finally:
        ctx.close()


def test_a_phone_shows_who_practises_and_the_map_fits(server, browser):
    ctx = browser.new_context(viewport=PHONE, timezone_id="UTC", is_mobile=True, has_touch=True)
    try:
        page = ctx.new_page()
        page.goto(f"{server}/?view=Practice&learner=phoebe")
        assert "Practising as phoebe" in summary(page)
        sidebar = page.locator('[data-testid="stSidebar"]')
        shown = sidebar.bounding_box()
        assert shown is None or shown["x"] + shown["width"] <= 1, shown  # closed (off screen), as on any phone
        page.get_by_role("button", name="Change learner").click()
        inline = page.locator('input[aria-label="Practise as"]')
        inline.fill("Phil")
        inline.press("Enter")
        page.get_by_text("Practising as Phil", exact=False).first.wait_for(timeout=30_000)
        page.wait_for_function("new URLSearchParams(location.search).get('learner') === 'Phil'", timeout=30_000)
        page.keyboard.press("Escape")
        page.wait_for_timeout(500)
        page.screenshot(path=ARTIFACTS / "33-practice-phone.png")

        page.goto(f"{server}/?view=Topic+map&learner=Phil")
        chart = page.locator('[data-testid="stVegaLiteChart"]').first
        chart.wait_for(timeout=60_000)
        page.wait_for_timeout(800)
        assert page_fits(page, PHONE["width"]), "the map pushes the page sideways"
        box = chart.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box  # within the screen
        scroll, client = chart.evaluate("e => [e.scrollWidth, e.clientWidth]")
        assert scroll > client and chart.evaluate("e => getComputedStyle(e).overflowX") == "auto"  # scrolls in itself
        chart.evaluate("e => { e.scrollLeft = e.scrollWidth; }")
        assert chart.evaluate("e => e.scrollLeft") > 0
        page.screenshot(path=ARTIFACTS / "34-map-phone.png")
        page.get_by_role("radio", name="My readiness").or_(page.get_by_role("button", name="My readiness")).click()
        wait_text(page, "Predicted recall per question, least ready first")
        page.wait_for_timeout(800)
        page.screenshot(path=ARTIFACTS / "35-map-readiness.png", full_page=True)
    finally:
        ctx.close()
