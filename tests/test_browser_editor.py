"""New question in a real browser: the server started the way `make run` starts it (tests/appserver.py), Debian's
headless Chromium driven through Playwright. A question added in the form is found by searching, without a restart.

The bank is the three-question fixture bank indexed with the real bundled model (the server embeds queries with the
model the index names, so a fake embedder cannot serve here; three questions keep the build to seconds).
Screenshots of the form go to tests/artifacts/ (gitignored): editor-desktop.png, editor-refused.png,
editor-saved.png, editor-phone.png.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from appserver import serve_app
from ingest.content import SECTIONS
from test_browser import SEARCH_BOX, browser, pytestmark  # noqa: F401  (the Chromium fixture; the skip without it)
from test_editor_app import SECTION_TEXT, TITLE

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
FIXTURE_CONTENT = Path(__file__).resolve().parent / "fixtures" / "content"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app over the fixture bank, indexed with the real model; yields (base URL, content folder)."""
    from ingest.build import build

    base = tmp_path_factory.mktemp("editor-browser")
    content, index_dir = base / "content", base / "index"
    shutil.copytree(FIXTURE_CONTENT, content)
    build(content, index_dir, model="all-MiniLM-L6-v2")
    with serve_app(index_dir, content, base / "practice.json", base / "streamlit.log") as (url, _, _):
        yield url, content


def settle(page) -> None:
    """Wait until the app has finished the rerun that the last input caused."""
    page.wait_for_timeout(300)
    page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"] [data-testid=\"stSpinner\"]')"
                           " && !document.querySelector('[data-testid=\"stAppRunning\"]')", timeout=30_000)


def open_new_form(page, url: str) -> None:
    page.goto(url + "/")
    page.locator(SEARCH_BOX).wait_for(timeout=90_000)
    if page.viewport_size["width"] < 700:  # a phone: the sidebar starts collapsed
        page.locator('[data-testid="stExpandSidebarButton"], [data-testid="stSidebarCollapsedControl"] button'
                     ).first.click(timeout=60_000)
    page.get_by_role("button", name="New question").click(timeout=60_000)
    page.get_by_role("heading", name="New question").wait_for(timeout=30_000)
    if page.viewport_size["width"] < 700:  # on a phone the open sidebar covers the form
        page.locator('[data-testid="stSidebarCollapseButton"] button').first.click()
        page.locator('[data-testid="stExpandSidebarButton"]').wait_for(timeout=30_000)


def shot(page, name: str) -> None:
    """A screenshot of the whole form: the page scrolls inside Streamlit's main block, so the viewport is made as
    tall as that block for the shot."""
    size = dict(page.viewport_size)
    height = page.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": min(max(height, size["height"]), 5000)})
    settle(page)
    page.screenshot(path=ARTIFACTS / name, full_page=True)
    page.set_viewport_size(size)


def test_a_question_added_in_the_form_is_found_by_searching_without_a_restart(server, browser):
    url, content = server
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    try:
        open_new_form(page, url)
        page.get_by_label("Id (the file name)").fill("../escape")
        page.get_by_label("Title").fill(TITLE)
        page.get_by_label("New topics").fill("pooling")
        page.get_by_label("Aliases (other names people search for)").fill("zebraquux")
        for key, heading in SECTIONS:
            page.get_by_label(heading, exact=True).fill(SECTION_TEXT[key])
        page.keyboard.press("Tab")
        settle(page)
        shot(page, "editor-desktop.png")

        # the form is browser input: a path never reaches the file system
        page.get_by_role("button", name="Save").click()
        page.get_by_text("the id must be lowercase words joined by hyphens", exact=False).wait_for(timeout=30_000)
        assert not (content.parent / "escape.md").exists() and not (content / "escape.md").exists()
        shot(page, "editor-refused.png")

        page.get_by_label("Id (the file name)").fill("zebraquux-pooling")
        page.keyboard.press("Tab")
        settle(page)
        page.get_by_role("button", name="Save").click()
        page.get_by_text("searchable now", exact=False).wait_for(timeout=120_000)
        assert (content / "zebraquux-pooling.md").is_file()
        page.locator('[data-testid="stSidebar"]').get_by_text("About this server").click()  # the bank's size
        page.locator('[data-testid="stSidebar"]').get_by_text("4 questions", exact=False).wait_for(timeout=30_000)
        shot(page, "editor-saved.png")

        box = page.locator(SEARCH_BOX)
        box.fill("zebraquux pooling")
        box.press("Enter")
        page.get_by_text(TITLE).first.wait_for(timeout=30_000)
        assert page.get_by_text("Why this matched").count() >= 1
    finally:
        context.close()


def test_the_form_on_a_phone(server, browser):
    from playwright.sync_api import expect

    url, _ = server
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        open_new_form(page, url)
        page.get_by_label("Title").fill("What is a form on a phone?")
        page.keyboard.press("Tab")
        settle(page)
        page.get_by_role("button", name="Save").click()  # nothing else filled: every problem under its field
        page.get_by_text("topics is empty", exact=False).wait_for(timeout=30_000)
        expect(page.get_by_text("is empty; write its text under the heading", exact=False)).to_have_count(5)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the form scrolls sideways on a 390 px phone ({width} px wide)"
        shot(page, "editor-phone.png")
    finally:
        context.close()
