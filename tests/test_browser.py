"""The app in a real browser: the server started the way `make run` starts it, driven by Debian's headless Chromium.

Screenshots go to tests/artifacts/ (gitignored), with timings.json (cold start to first answer, server-side search
times read from the page). The bank is the real one plus one question whose text holds a <script> tag.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path
from urllib.parse import parse_qs, quote_plus, urlparse

import pytest

from appserver import CHROMIUM, CHROMIUM_ARGS, serve_app

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
SEARCH_BOX = 'input[aria-label="Search the question bank"]'
LEAKAGE_TITLE = "What is feature leakage, and how do you detect and prevent it?"
SCRIPT_TEXT = "<script>alert(1)</script>"
XSS_QUESTION = f"""---
title: "How does the page show markup such as <b>bold</b> in an answer?"
topics: [fundamentals]
aliases: [markup test]
---

## Short answer

Markup is shown as text: {SCRIPT_TEXT} and <img src=x onerror=alert(2)> stay visible, never run.

## Explanation

Every piece of content is escaped before it reaches the page.

## Example

The tag <b>bold</b> appears with its angle brackets.

## Common mistakes

Rendering content with unsafe_allow_html.

## Production story

A wiki once executed a script pasted into an answer.
"""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.model,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium "
                                                      "(apt-get install -y chromium chromium-driver)"),
]


@pytest.fixture(scope="module")
def bank(real_index, tmp_path_factory):
    """(index folder, content folder): the real bank plus the <script> question, built with the real model
    (only the new question is embedded; everything else is reused from the session's real index)."""
    from ingest.build import build

    base = tmp_path_factory.mktemp("browser")
    content, index_dir = base / "content", base / "index"
    shutil.copytree(ROOT / "content", content)
    (content / "markup-test.md").write_text(XSS_QUESTION, encoding="utf-8")
    shutil.copytree(real_index, index_dir)
    report = build(content, index_dir)
    assert report.embedded == 5, report.summary()
    return index_dir, content


@pytest.fixture(scope="module")
def server(bank, tmp_path_factory):
    """The app served as `make run` serves it; yields (base URL, perf_counter when the process was spawned)."""
    index_dir, content = bank
    base = tmp_path_factory.mktemp("served")
    with serve_app(index_dir, content, base / "practice.json", base / "streamlit.log") as (url, _, started):
        yield url, started


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    pg = context.new_page()
    dialogs = []
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    pg.dialogs = dialogs
    yield pg
    context.close()


def _record(key: str, value) -> None:
    path = ARTIFACTS / "timings.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data[key] = value
    path.write_text(json.dumps(data, indent=1, sort_keys=True))


def _query_of(pg) -> dict:
    return parse_qs(urlparse(pg.url).query)


def test_type_a_query_and_the_answer_appears_as_you_type(server, page):
    url, started = server
    page.goto(url + "/")
    box = page.locator(SEARCH_BOX)
    box.wait_for(timeout=60_000)
    page.wait_for_function(f"document.activeElement === document.querySelector('{SEARCH_BOX}')", timeout=30_000)
    # the empty state, once loaded (the sidebar's "About this server" says it too, folded away)
    page.locator('[data-testid="stMain"]').get_by_text("16 questions", exact=False).first.wait_for(timeout=60_000)
    page.screenshot(path=ARTIFACTS / "01-empty-state.png", full_page=True)

    # Typed, never Enter: the answer must come from the debounced as-you-type commit.
    page.keyboard.type("how do I detect leakage", delay=30)
    page.get_by_text(LEAKAGE_TITLE).first.wait_for(timeout=30_000)
    # The first test against this server: from process start to the first answer on screen.
    _record("cold_start_to_first_answer_s", round(time.perf_counter() - started, 2))
    page.get_by_text("Why this matched").first.wait_for()
    assert _query_of(page).get("q") == ["how do I detect leakage"]
    page.screenshot(path=ARTIFACTS / "02-results-light.png", full_page=True)


def test_deep_link_with_a_section_filter(server, page):
    url, _ = server
    page.goto(f"{url}/?q={quote_plus('cross validation')}&section={quote_plus('Common mistakes')}")
    page.get_by_text("Why this matched").first.wait_for(timeout=60_000)
    page.wait_for_function(f"document.querySelector('{SEARCH_BOX}')?.value === 'cross validation'", timeout=30_000)
    assert _query_of(page).get("section") == ["Common mistakes"]
    badges = page.locator('[data-testid="stMarkdownContainer"] span', has_text="Common mistakes")
    assert badges.count() >= 1
    # the other sections, a click away: filled when the card's expander opens
    assert page.get_by_text("Short answer", exact=True).count() == 0
    page.get_by_text("The other sections", exact=False).first.click()
    page.get_by_text("Short answer", exact=True).first.wait_for(timeout=30_000)
    page.screenshot(path=ARTIFACTS / "03-deep-link-mistakes.png", full_page=True)


def test_related_click_opens_the_question_and_updates_the_url(server, page):
    url, _ = server
    page.goto(f"{url}/?open=feature-leakage")
    page.get_by_text("Related questions").wait_for(timeout=60_000)
    related = page.locator('[data-testid="stButton"] button').filter(has_text="?")
    first = related.nth(1)  # 0 is "Back"
    title = first.inner_text().strip().splitlines()[-1]  # the text after the button's icon
    first.click()
    page.wait_for_function("!location.search.includes('open=feature-leakage')", timeout=30_000)
    opened = _query_of(page)["open"][0]
    assert opened != "feature-leakage"
    page.get_by_role("heading", name=title).wait_for(timeout=30_000)
    page.screenshot(path=ARTIFACTS / "04-related-opened.png", full_page=True)


def test_script_in_content_shows_as_text_and_never_runs(server, page):
    url, _ = server
    page.goto(f"{url}/?open=markup-test")
    page.get_by_text(SCRIPT_TEXT, exact=False).first.wait_for(timeout=60_000)
    page.wait_for_timeout(500)
    assert page.dialogs == []
    assert page.locator("main script").count() == page.locator("main [data-testid=stHtml] script").count()
    assert "<b>bold</b>" in page.locator("main").inner_text()
    page.screenshot(path=ARTIFACTS / "05-script-as-text.png", full_page=True)


def test_keyboard_only_and_dark_theme(server, browser):
    url, _ = server
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, color_scheme="dark")
    page = context.new_page()
    try:
        page.goto(url + "/")
        page.locator(SEARCH_BOX).wait_for(timeout=60_000)
        page.wait_for_function(f"document.activeElement === document.querySelector('{SEARCH_BOX}')")
        page.keyboard.type("vanishing gradients")
        page.keyboard.press("Enter")
        page.get_by_text("Why this matched").first.wait_for(timeout=30_000)
        page.screenshot(path=ARTIFACTS / "06-results-dark.png", full_page=True)
        # Tab until the first "Open this question" button has focus, then press Enter on it.
        for _ in range(60):
            page.keyboard.press("Tab")
            if "Open this question" in (page.evaluate("document.activeElement.innerText") or ""):
                break
        else:
            pytest.fail("no 'Open this question' button is reachable with Tab")
        page.keyboard.press("Enter")
        page.get_by_text("Related questions").wait_for(timeout=30_000)
        assert "open" in _query_of(page)
        background = page.evaluate("getComputedStyle(document.querySelector('.stApp')).backgroundColor")
        assert background != "rgb(255, 255, 255)", "the page should follow the browser's dark preference"
        page.screenshot(path=ARTIFACTS / "06-keyboard-dark-opened.png", full_page=True)
    finally:
        context.close()


def test_topic_map_point_click_opens_a_question(server, page):
    from PIL import Image

    url, _ = server
    page.goto(f"{url}/?view={quote_plus('Topic map')}")
    chart = page.locator('[data-testid="stVegaLiteChart"]').first
    chart.wait_for(timeout=60_000)
    page.wait_for_timeout(1500)
    shot = ARTIFACTS / "07-topic-map.png"
    chart.screenshot(path=shot)
    box = chart.bounding_box()
    image = Image.open(shot).convert("RGB")
    # Find a dot: the centre of the first blob of strongly coloured pixels in the plot area (the legend is right).
    coloured = [(x, y) for y in range(0, image.height, 2) for x in range(0, int(image.width * 0.6), 2)
                if max(image.getpixel((x, y))) - min(image.getpixel((x, y))) > 90]
    assert coloured, "no coloured dot found on the map"
    x0, y0 = coloured[0]
    blob = [(x, y) for x, y in coloured if abs(x - x0) < 14 and abs(y - y0) < 14]
    cx, cy = sum(x for x, _ in blob) / len(blob), sum(y for _, y in blob) / len(blob)
    page.mouse.click(box["x"] + cx * box["width"] / image.width, box["y"] + cy * box["height"] / image.height)
    page.get_by_text("Related questions").wait_for(timeout=30_000)
    assert _query_of(page).get("open")
    page.screenshot(path=ARTIFACTS / "08-map-click-opened.png", full_page=True)


def test_practice_rating_survives_a_reload_and_the_revision_sheet_shows(server, page):
    url, _ = server  # the answer check and two learners: tests/test_browser_practice.py
    page.goto(f"{url}/?view=Practice&learner=revealer")
    page.get_by_role("button", name="Show the model answer").click(timeout=60_000)
    page.get_by_text("Production story", exact=True).first.wait_for(timeout=30_000)
    page.screenshot(path=ARTIFACTS / "09-practice-revealed.png", full_page=True)
    page.get_by_role("button", name="Again", exact=True).click()
    page.get_by_text("Recorded Again", exact=False).first.wait_for(timeout=30_000)
    page.reload()
    page.get_by_text("Weak so far", exact=False).first.wait_for(timeout=60_000)

    page.goto(f"{url}/?view={quote_plus('Revision sheet')}")
    page.get_by_role("button", name="Download HTML (printable)").wait_for(timeout=60_000)
    page.get_by_text(LEAKAGE_TITLE).first.wait_for()
    page.screenshot(path=ARTIFACTS / "10-revision-sheet.png", full_page=True)


def test_server_side_search_time_after_warm_up(server, page):
    url, _ = server
    page.goto(url + "/")
    page.locator(SEARCH_BOX).wait_for(timeout=60_000)
    queries = ["bias variance", "gradient boosting vs random forest", "precision recall tradeoff", "word2vec",
               "attention", "model drift monitoring", "dropout", "learning rate schedule", "k-fold", "AUC"]
    for q in queries:
        page.goto(f"{url}/?q={quote_plus(q)}")
        page.get_by_text("answered in").first.wait_for(timeout=30_000)
    page.locator('[data-testid="stSidebar"]').get_by_text("About this server").click()  # where the figures are
    caption = page.get_by_text("Server-side search time").first.inner_text()
    _record("sidebar_search_time", caption)
    assert "p50" in caption and "p95" in caption


# --------------------------------------------------------------------------- rough edges a new user hits
def _in_view(page, locator, within_ms: int = 5_000) -> bool:
    """True once `locator` is wholly inside the viewport, checked every 100 ms for `within_ms` (the page scrolls
    after its run has drawn, later when the machine is busy)."""
    for _ in range(max(1, within_ms // 100)):
        box = locator.bounding_box()
        if box is not None and 0 <= box["y"] and box["y"] + box["height"] <= page.viewport_size["height"]:
            return True
        page.wait_for_timeout(100)
    return False


def test_opening_a_question_from_low_on_the_page_shows_its_title(server, page):
    url, _ = server
    page.goto(f"{url}/?q={quote_plus('gradient')}")
    page.get_by_text("Why this matched").first.wait_for(timeout=60_000)
    last = page.get_by_role("link", name="Open this question and related ones").last
    last.scroll_into_view_if_needed()
    last.click()
    page.get_by_text("Related questions").wait_for(timeout=30_000)
    page.wait_for_timeout(800)
    assert _in_view(page, page.locator('[data-testid="stMain"] h3').first), "the opened question's title is off screen"
    related = page.locator('[data-testid="stButton"] button').filter(has_text="?").last
    before = _query_of(page)["open"]
    related.scroll_into_view_if_needed()
    related.click()
    page.wait_for_function(f"new URLSearchParams(location.search).get('open') !== '{before[0]}'", timeout=30_000)
    title = page.locator('[data-testid="stMain"] h3').first
    title.wait_for(timeout=60_000)  # the URL changes before the run that draws the question has finished
    page.wait_for_timeout(800)
    assert _in_view(page, title), "a related question opens at its title"


def test_card_links_act_in_the_same_session(server, page):
    """A card's links (open it, show its other sections) act in the same session, with no page load."""
    url, _ = server
    page.goto(f"{url}/?q={quote_plus('gradient')}")
    page.get_by_text("Why this matched").first.wait_for(timeout=60_000)
    page.evaluate("window.__sameSession = 42")  # gone if a click loaded the page again
    headings = page.locator('[data-testid="stMain"] strong')  # an opened card's other sections are bold-headed
    before = headings.count()
    page.get_by_role("link", name=re.compile("^The other sections")).first.click()
    page.get_by_role("link", name="Hide the other sections").wait_for(timeout=30_000)
    page.wait_for_function(f"document.querySelectorAll('[data-testid=stMain] strong').length === {before + 4}",
                           timeout=30_000)
    page.get_by_role("link", name="Hide the other sections").click()
    page.get_by_role("link", name="Hide the other sections").wait_for(state="detached", timeout=30_000)
    opener = page.get_by_role("link", name="Open this question and related ones").first
    target = opener.get_attribute("href").removeprefix("#open-")
    opener.focus()
    page.keyboard.press("Enter")
    page.get_by_text("Related questions").wait_for(timeout=30_000)
    assert _query_of(page)["open"] == [target] and _query_of(page)["q"] == ["gradient"]
    assert page.evaluate("window.__sameSession") == 42, "the click started a new session"
    assert "#" not in page.url, "the link's anchor is not left in the URL"


def test_back_returns_to_each_search_then_to_the_landing_page(server, page):
    url, _ = server
    page.goto(url + "/")
    page.locator(SEARCH_BOX).wait_for(timeout=60_000)
    page.wait_for_function(f"document.activeElement === document.querySelector('{SEARCH_BOX}')", timeout=30_000)
    page.wait_for_timeout(1000)
    landing = page.evaluate("history.length")
    page.keyboard.type("gradient", delay=40)
    page.wait_for_timeout(700)  # a pause in the middle: the box commits "gradient" on its own
    page.keyboard.type(" boosting", delay=40)
    page.wait_for_function("new URLSearchParams(location.search).get('q') === 'gradient boosting'", timeout=30_000)
    page.get_by_text("Why this matched").first.wait_for(timeout=30_000)
    page.wait_for_timeout(2500)  # reading the results
    page.get_by_text("Filters:", exact=False).first.click()
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    topics = page.locator('[data-testid="stMultiSelect"]').nth(1).locator("input")
    option = page.get_by_role("option", name="ensembles", exact=True)
    for _ in range(10):  # the box may be redrawn by a run still finishing, closing its list: type into it again
        topics.click()
        topics.fill("ensembles")  # the list shows only the matching topic, whether or not it was scrolled into view
        try:
            option.wait_for(timeout=3_000)
            option.click()
            break
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    page.wait_for_function("new URLSearchParams(location.search).get('topic') === 'ensembles'", timeout=30_000)
    page.wait_for_timeout(1000)
    assert page.evaluate("history.length") == landing + 2, "one entry for the search, one for the filter"

    page.go_back()
    page.wait_for_function("!new URLSearchParams(location.search).has('topic')", timeout=30_000)
    assert _query_of(page).get("q") == ["gradient boosting"], "Back undoes the filter and keeps the whole query"
    page.go_back()
    page.wait_for_function("!new URLSearchParams(location.search).has('q')", timeout=30_000)
    page.get_by_text("Try one of these").wait_for(timeout=30_000)
    assert page.locator(SEARCH_BOX).input_value() == "", "the second Back is the landing page"


def test_no_request_leaves_the_server(server, page):
    url, _ = server
    host = urlparse(url).hostname
    requests, errors = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{url}/?q={quote_plus('how do I detect leakage')}")
    page.get_by_text("Why this matched").first.wait_for(timeout=60_000)
    page.goto(f"{url}/?view={quote_plus('Topic map')}")
    page.locator('[data-testid="stVegaLiteChart"]').first.wait_for(timeout=60_000)
    page.wait_for_timeout(1500)
    outside = sorted({r for r in requests if not r.startswith(("data:", "blob:")) and urlparse(r).hostname != host})
    assert outside == []
    assert not [e for e in errors if "ERR_NAME_NOT_RESOLVED" in e or "Failed to load" in e]


def test_unknown_question_id_gets_a_web_message(server, page):
    url, _ = server
    page.goto(f"{url}/?open=no-such-question")
    warning = page.locator('[data-testid="stAlert"]').first
    warning.wait_for(timeout=60_000)
    text = warning.inner_text()
    assert "has no question" in text and "python" not in text and "-m " not in text


def test_filter_that_leaves_out_the_answer_says_nothing_close(server, page):
    url, _ = server
    page.goto(f"{url}/?q={quote_plus('vanishing gradients')}&topic=evaluation")
    page.get_by_text("Nothing with these filters answers", exact=False).wait_for(timeout=60_000)
    page.get_by_text("The closest answer is outside the filters", exact=False).wait_for()
    assert page.get_by_text("Why this matched").count() == 0, "weak matches are not shown as results"


def test_browse_follows_the_topics_filter(server, page):
    url, _ = server
    page.goto(f"{url}/?view=Browse&topic=nlp")
    page.get_by_text("What are word embeddings", exact=False).first.wait_for(timeout=60_000)
    assert page.locator('[data-testid="stSelectbox"]').count() == 0, "no second topic picker"
    assert page.get_by_text("How does a Random Forest work", exact=False).count() == 0


def test_highlight_has_no_stray_space_and_why_is_plain(server, page):
    url, _ = server
    page.goto(f"{url}/?q={quote_plus('data leakage')}")
    page.get_by_text("Why this matched").first.wait_for(timeout=60_000)
    # a new session's page is drawn in stages (placeholders first): measure the page as it settles, not midway
    page.wait_for_function("() => document.querySelectorAll('[data-testid=stSkeleton]').length === 0",
                           timeout=60_000)
    measure = """(() => {
      const span = [...document.querySelectorAll('[data-testid=stMarkdownContainer] span')]
        .find((s) => s.innerText === 'data leakage' && (s.previousSibling?.textContent || '').endsWith('('));
      if (!span) return null;
      const before = document.createRange(), text = span.previousSibling;
      before.setStart(text, text.textContent.length - 1); before.setEnd(text, text.textContent.length);
      const inside = document.createRange();
      inside.setStart(span.firstChild, 0); inside.setEnd(span.firstChild, 1);
      return inside.getBoundingClientRect().left - before.getBoundingClientRect().right;
    })()"""
    gap = page.evaluate(measure)
    assert gap is not None, "no highlighted '(data leakage' on the page"
    assert gap < 1.5, f"{gap:.1f} px between '(' and the highlight"
    # a search typed on the page reruns only the results: the style must still hold for the new cards
    box = page.get_by_label("Search the question bank")
    box.fill("what is data leakage")
    box.press("Enter")
    page.wait_for_function("() => [...document.querySelectorAll('h4')].length > 0"
                           " && new URL(location.href).searchParams.get('q') === 'what is data leakage'",
                           timeout=60_000)
    page.get_by_text("Why this matched").first.wait_for(timeout=60_000)
    page.wait_for_timeout(500)
    gap = page.evaluate(measure)
    assert gap is not None and gap < 1.5, f"after a typed search: {gap} px between '(' and the highlight"
    why = page.get_by_text("Why this matched").first.inner_text()
    assert "by meaning" not in why and "#" not in why and "in meaning" in why


def test_phone_shows_the_first_result_on_the_first_screen(server, browser):
    url, _ = server
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    try:
        page.goto(f"{url}/?q={quote_plus('how do I detect leakage')}")
        page.locator("h4").first.wait_for(timeout=60_000)
        page.wait_for_timeout(800)
        # the first card down to its "why" line: title, section badge and the matched text
        box = page.get_by_text("Why this matched").first.bounding_box()
        assert box["y"] + box["height"] <= 844, f"the first result ends {box['y'] + box['height']:.0f} px down"
        page.screenshot(path=ARTIFACTS / "11-phone-results.png")
    finally:
        context.close()


def test_topic_map_labels_are_short_titles_apart_from_each_other_and_the_legend(server, page):
    from ui.topicmap import PALETTE

    url, _ = server
    page.goto(f"{url}/?view={quote_plus('Topic map')}")
    page.locator('[data-testid="stVegaLiteChart"] svg .mark-text text').first.wait_for(timeout=60_000)
    page.wait_for_timeout(1000)
    found = page.evaluate("""(() => {
      const chart = document.querySelector('[data-testid=stVegaLiteChart] svg');
      const box = (e) => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
      return {
        labels: [...chart.querySelectorAll('.mark-text text')].filter((t) => !t.closest('.role-legend'))
          .map((t) => [t.textContent, box(t)]),
        legend: [...chart.querySelectorAll('.role-legend')].map(box),
        fills: [...chart.querySelectorAll('.mark-symbol path')].map((p) => p.getAttribute('fill')),
      };
    })()""")
    labels = found["labels"]
    assert len(labels) >= 12, f"only {len(labels)} of the 16 dots are labelled"
    assert not [t for t, _ in labels if "-" in t and t == t.lower()], "labels are titles, not ids"

    def overlap(a, b):
        return a[0] < b[2] - 1 and b[0] < a[2] - 1 and a[1] < b[3] - 1 and b[1] < a[3] - 1

    clashes = [(s, t) for i, (s, a) in enumerate(labels) for t, b in labels[i + 1:] if overlap(a, b)]
    assert clashes == []
    assert not [t for t, a in labels for legend in found["legend"] if overlap(a, legend)]
    fills = {f.upper() for f in found["fills"] if f}
    assert fills and fills <= {c.upper() for c in PALETTE}, "colours from the colour-blind-safe palette"
    assert len(fills) >= 6, "one colour per topic"
    page.screenshot(path=ARTIFACTS / "12-topic-map-labels.png", full_page=True)


NEWCOMER_QUERY = "precison recall tradeoff for cancer screening"  # a typo, a passage elsewhere, loose questions


def _open_page(page, url: str, open_id: str):
    page.goto(f"{url}/?open={open_id}")
    page.get_by_text("Related questions").wait_for(timeout=60_000)


def test_back_from_a_related_question_returns_to_the_question_it_came_from(server, page):
    url, _ = server
    _open_page(page, url, "feature-leakage")
    related = page.locator('[class*="st-key-related-"] button').first
    title = related.inner_text().strip().splitlines()[-1]
    related.click()
    page.wait_for_function("new URLSearchParams(location.search).get('open') !== 'feature-leakage'", timeout=30_000)
    page.get_by_role("heading", name=title).wait_for(timeout=30_000)
    back = page.locator(".st-key-back button")
    assert "Back to " + LEAKAGE_TITLE in back.inner_text()
    entries = page.evaluate("history.length")
    back.click()  # the page's own Back
    page.wait_for_function("new URLSearchParams(location.search).get('open') === 'feature-leakage'", timeout=30_000)
    page.get_by_role("heading", name=LEAKAGE_TITLE).wait_for(timeout=30_000)
    page.wait_for_timeout(1000)
    assert page.evaluate("history.length") == entries, "the page's Back is the browser's: it adds no entry"
    page.go_forward()  # so Forward returns to the related question
    page.get_by_role("heading", name=title).wait_for(timeout=30_000)
    page.go_back()
    page.get_by_role("heading", name=LEAKAGE_TITLE).wait_for(timeout=30_000)
    page.wait_for_timeout(2500)  # ui/page.py: for 2 s after Back, URL changes are Streamlit settling (replaced)

    page.locator('[class*="st-key-related-"] button').first.click()
    page.get_by_role("heading", name=title).wait_for(timeout=30_000)
    page.wait_for_timeout(500)
    page.go_back()  # the browser's Back
    page.wait_for_function("new URLSearchParams(location.search).get('open') === 'feature-leakage'", timeout=30_000)
    page.get_by_role("heading", name=LEAKAGE_TITLE).wait_for(timeout=30_000)
    # this page was opened by its link, not from another question: its Back goes to the search
    page.wait_for_function("!document.querySelector('.st-key-back button').innerText.includes('Back to')",
                           timeout=30_000)
    page.locator(".st-key-back button").click()
    page.wait_for_function("!new URLSearchParams(location.search).has('open')", timeout=30_000)


def test_topics_are_links_that_look_like_links_and_work_from_the_keyboard(server, page):
    url, _ = server
    page.goto(url + "/")
    link = page.get_by_role("link", name="evaluation", exact=True)
    link.wait_for(timeout=60_000)
    style = "(e) => { const s = getComputedStyle(e); return [s.color, s.textDecorationLine, s.cursor]; }"
    text_colour = page.locator('[data-testid="stMain"] p').first.evaluate("(e) => getComputedStyle(e).color")
    colour, _, _ = link.evaluate(style)
    assert colour != text_colour, "a topic is coloured as a link, not as the text around it"
    link.hover()
    page.wait_for_timeout(300)
    _, decoration, cursor = link.evaluate(style)
    assert "underline" in decoration and cursor == "pointer"
    page.locator(SEARCH_BOX).focus()
    for _ in range(80):  # Tab from the search box until the topic link has focus, then Enter follows it
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.tagName === 'A' && document.activeElement.innerText === 'evaluation'"):
            break
    else:
        pytest.fail("the topic link is not reachable with Tab")
    page.keyboard.press("Enter")
    # the link loads ?topic=evaluation, whose run then switches the view to Browse: wait for both, not the first
    page.wait_for_function("new URLSearchParams(location.search).get('topic') === 'evaluation'", timeout=30_000)
    page.wait_for_function("new URLSearchParams(location.search).get('view') === 'Browse'", timeout=30_000)
    assert _query_of(page).get("view") == ["Browse"]
    assert "#" not in page.url, "the link's anchor is not left in the URL"


@pytest.mark.parametrize("width, scheme", [(1280, "light"), (1280, "dark"), (390, "light"), (390, "dark")])
def test_a_repaired_query_the_matching_passage_and_the_loosely_related(server, browser, width, scheme):
    url, _ = server
    context = browser.new_context(viewport={"width": width, "height": 1500 if width > 500 else 2000},
                                  color_scheme=scheme, is_mobile=width < 500, has_touch=width < 500)
    page = context.new_page()
    try:
        page.goto(f"{url}/?q={quote_plus(NEWCOMER_QUERY)}")
        page.get_by_text("Showing results for").wait_for(timeout=60_000)
        page.get_by_text("Matching passage, Explanation").wait_for(timeout=30_000)
        page.get_by_text("Loosely related: far below the first result").wait_for(timeout=30_000)
        main = page.locator('[data-testid="stMain"]').inner_text()
        assert main.index("Matching passage") < main.index("Loosely related") < main.index("What is model drift")
        page.wait_for_timeout(1500)  # the sidebar is drawn after the results
        page.screenshot(path=ARTIFACTS / f"20-newcomer-{width}-{scheme}.png", full_page=True)
        if width == 1280 and scheme == "light":  # "search instead for" searches the words as typed
            page.get_by_role("link", name=NEWCOMER_QUERY).click()
            page.get_by_text("Showing results for").wait_for(state="detached", timeout=30_000)
            assert _query_of(page)["q"] == [NEWCOMER_QUERY] and "#" not in page.url
    finally:
        context.close()
