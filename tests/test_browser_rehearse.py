"""Rehearsal in a real browser: a spoken answer through Chromium's fake microphone (a WAV that espeak-ng speaks in
the test), transcribed on the server and checked, on a desktop and a 390 px phone; and a mock interview of three
questions end to end on a fixed clock (MLPREP_NOW). Screenshots go to tests/artifacts/ (docs/frontend.md)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import wave
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from appserver import CHROMIUM, CHROMIUM_ARGS, serve_app
from progress import open_store
from test_browser import browser, pytestmark  # noqa: F401 (the marks and skip, the shared Chromium)

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)  # the server's fixed clock
ANSWER_BOX = 'textarea[aria-label="Your answer"]'
SPOKEN = ("Overfitting is when a model learns the training data too well, including its noise, and performs poorly "
          "on new data. You detect it by comparing training and validation accuracy. You prevent it with "
          "regularization, dropout, more data or a simpler model.")
needs_speech_tools = pytest.mark.skipif(not (shutil.which("espeak-ng") and shutil.which("sox")),
                                        reason="espeak-ng and sox (Debian packages) speak the test answer")


@pytest.fixture(scope="module")
def server(real_index, tmp_path_factory):
    """(base URL, progress database, index): the app over the real bank with its clock fixed at NOW."""
    from index import open_index

    base = tmp_path_factory.mktemp("rehearse-served")
    saved = os.environ.get("MLPREP_NOW")
    os.environ["MLPREP_NOW"] = NOW.isoformat()  # serve_app hands the environment to the server
    try:
        with serve_app(real_index, ROOT / "content", base / "practice.json", base / "streamlit.log") as (url, _, _):
            yield url, base / "progress.db", open_index(real_index, check_stale=False)
    finally:
        if saved is None:
            os.environ.pop("MLPREP_NOW", None)
        else:
            os.environ["MLPREP_NOW"] = saved


@pytest.fixture(scope="module")
def spoken_wav(tmp_path_factory) -> tuple[Path, float]:
    """(WAV file, seconds of speech): SPOKEN by espeak-ng at 16 kHz, then 4 s of silence (the fake microphone loops
    the file, so the recording is stopped inside the silence)."""
    folder = tmp_path_factory.mktemp("speech")
    raw, wav = folder / "raw.wav", folder / "answer.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(raw), SPOKEN], check=True, timeout=60)
    with wave.open(str(raw)) as w:
        seconds = w.getnframes() / w.getframerate()
    subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(wav), "pad", "0.5", "4"], check=True,
                   timeout=60)
    return wav, seconds


def _record_answer(page, seconds: float) -> None:
    page.get_by_role("button", name="Record").first.click()
    page.get_by_role("button", name="Stop recording").wait_for(timeout=30_000)
    page.wait_for_timeout(int((seconds + 1.5) * 1000))
    page.get_by_role("button", name="Stop recording").click()


@needs_speech_tools
def test_a_spoken_answer_is_transcribed_checked_and_timed(server, spoken_wav):
    from playwright.sync_api import sync_playwright

    url, database, _ = server
    wav, seconds = spoken_wav
    ARTIFACTS.mkdir(exist_ok=True)
    mic = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
           f"--use-file-for-fake-audio-capture={wav}"]
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS + mic)
        try:
            for name, viewport in (("desktop", {"width": 1280, "height": 1000}),
                                   ("phone", {"width": 390, "height": 844})):
                context = chromium.new_context(viewport=viewport, permissions=["microphone"],
                                               is_mobile=name == "phone", has_touch=name == "phone")
                page = context.new_page()
                page.goto(f"{url}/?open=overfitting&learner=erin")
                page.get_by_role("heading", name="What is overfitting", exact=False).wait_for(timeout=120_000)
                page.get_by_role("button", name="Record").first.scroll_into_view_if_needed()
                _record_answer(page, seconds)
                box = page.locator(ANSWER_BOX).first
                page.wait_for_function(f"document.querySelector('{ANSWER_BOX}').value.length > 40", timeout=240_000)
                transcript = box.input_value().lower()
                for word in ("overfitting", "training data", "validation", "regularization"):
                    assert word in transcript, transcript
                main = page.locator('[data-testid="stMain"]')
                page.get_by_text("Delivery", exact=True).wait_for(timeout=120_000)
                # the coverage bar's line, waited for as the other browser tests do (it may draw after the text)
                page.get_by_text("Coverage", exact=False).first.wait_for(timeout=60_000)
                text = main.inner_text()
                assert text.count("covered") >= 3, text
                assert "words a minute" in text and "lower bound" in text
                page.get_by_text("Delivery", exact=True).scroll_into_view_if_needed()
                page.wait_for_timeout(500)
                page.screenshot(path=ARTIFACTS / f"40-spoken-answer-{name}.png", full_page=True)
                context.close()
        finally:
            chromium.close()
    with sqlite3.connect(database) as conn:  # the transcripts are in erin's history; the recordings are not
        rows = conn.execute("SELECT r.question_id, r.source, r.audio IS NULL, r.transcript FROM rehearsals r "
                            "JOIN learners l ON l.id = r.learner_id WHERE l.name = 'erin'").fetchall()
    assert len(rows) == 2 and all(r[:3] == ("overfitting", "app", 1) for r in rows), rows
    assert "overfitting" in rows[0][3].lower()


def test_a_mock_interview_of_three_questions_on_a_fixed_clock(server, browser):
    url, database, idx = server
    store = open_store(database)
    store.record_review("frank", "overfitting", "again", now=NOW - timedelta(days=3))  # due and weak: asked first
    store.close()
    titles = {q.title: q for q in idx.questions}
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    try:
        page.goto(f"{url}/?view=Mock+interview&learner=frank")
        page.get_by_role("button", name="Start the mock interview").click()
        main = page.locator('[data-testid="stMain"]')
        asked = []
        for n in range(6):
            heading = main.locator("h3").first
            heading.wait_for(timeout=60_000)
            prompt = heading.inner_text().strip()
            asked.append(prompt)
            if prompt in titles:
                text = titles[prompt].section("short").text
            elif prompt.startswith("A related question: "):
                text = titles[prompt.removeprefix("A related question: ")].section("short").text
            else:
                assert prompt == "What is a common mistake here?", prompt
                on = main.get_by_text("Follow-up on:", exact=False).first.inner_text().split("Follow-up on:", 1)[1]
                text = titles[on.strip()].section("mistakes").text
            page.locator(ANSWER_BOX).first.fill(text)
            if n == 0:
                page.screenshot(path=ARTIFACTS / "41-mock-question.png", full_page=True)
            page.get_by_role("button", name="Submit answer").click()
            if n < 5:
                page.wait_for_function("p => { const h = document.querySelector('[data-testid=\"stMain\"] h3'); "
                                       "return h && h.innerText.trim() !== p; }", arg=prompt, timeout=60_000)
        page.get_by_text("Mock interview summary: 3 questions").wait_for(timeout=60_000)
        page.get_by_text("Rating to record").nth(2).wait_for(timeout=60_000)  # the last card drawn too
        assert asked[0] == idx.question("overfitting").title  # due and weak first
        assert asked[1].startswith("A related question: ") and asked[3] == "What is a common mistake here?"
        text = main.inner_text()
        assert text.count("Coverage") == 3 and text.count("Follow-up:") == 3 and "Rating to record" in text
        assert text.count("Typed: no delivery figures.") == 3
        page.screenshot(path=ARTIFACTS / "42-mock-summary.png", full_page=True)
        assert open_store(database).count_reviews("frank") == 1  # nothing recorded before the learner confirms
        page.get_by_role("button", name="Record these ratings").click()
        page.get_by_text("Recorded:", exact=False).first.wait_for(timeout=30_000)
    finally:
        context.close()
    with sqlite3.connect(database) as conn:
        rows = conn.execute("SELECT r.question_id, r.source, r.reviewed_at FROM reviews r JOIN learners l "
                            "ON l.id = r.learner_id WHERE l.name = 'frank' AND r.source = 'mock'").fetchall()
    assert len(rows) == 3 and {r[2][:19] for r in rows} == {"2026-12-01T09:00:00"}, rows
    assert rows[0][0] == "overfitting"
