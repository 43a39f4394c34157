"""Load: 10 headless Chromium sessions search the served app at once for 60 s (MLPREP_LOAD_SECONDS to change it).

Each session has its own browser context (its own Streamlit session), types queries into the search box (found by
its label) and waits for the top question the library gives for that query. Passing means: no
Streamlit exception box (stException) in any session, no script dialog (markup queries are in the mix), every
search answered. The server's resident memory is read before and after and written, with the counts, to
tests/artifacts/load.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
from pathlib import Path

import pytest
from appserver import CHROMIUM, CHROMIUM_ARGS, ROOT, serve_app

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
SESSIONS = 10
SECONDS = float(os.environ.get("MLPREP_LOAD_SECONDS", "60"))
SEARCH_BOX = 'input[aria-label="Search the question bank"]'  # the sidebar has text inputs too
EXCEPTION = '[data-testid="stException"]'
QUERIES = ["how do I detect leakage", "random forest vs gradient boosting", "precision or recall for fraud",
           "common mistakes with cross validation", "vanishing gradients", "word embeddings", "model drift in production",
           "attention mechanism", "train validation test split", "overfiting", "adam vs sgd", "neural network layers",
           "supervised vs unsupervised", "classification or regression"]
ODD = ["<script>alert(1)</script>", "<img src=x onerror=alert(2)>", "the of and", "???", "漢字 😀", "a" * 3000]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.model,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium "
                                                      "(apt-get install -y chromium chromium-driver)"),
]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def served(real_index, tmp_path_factory):
    """(base URL, server process, {query: the top question's title}) for a copy of the bank and its index."""
    from index import open_index
    from ingest.build import build

    base = tmp_path_factory.mktemp("load")
    content, index_dir = base / "content", base / "index"
    shutil.copytree(ROOT / "content", content)
    shutil.copytree(real_index, index_dir)
    build(content, index_dir)  # reuses every vector unless the bank changed since the session index was built
    idx = open_index(index_dir, content_dir=content)
    expected = {q: idx.search(q, k=10).groups[0].question for q in QUERIES}

    # served on 127.0.0.1 with no file watcher (see appserver)
    with serve_app(index_dir, content, base / "practice.json", base / "streamlit.log") as (url, proc, _):
        yield url, proc, expected


async def search(page, query: str, title: str | None, timeout_ms: float) -> None:
    box = page.locator(SEARCH_BOX).first
    await box.fill(query)
    await box.press("Enter")
    if title is not None:
        await page.get_by_text(title, exact=True).first.wait_for(timeout=timeout_ms)
    else:  # an odd query: wait until the page's run has finished
        await page.wait_for_timeout(300)
        await page.wait_for_function(
            "!document.querySelector('[data-testid=\"stStatusWidget\"]')"
            " || !document.querySelector('[data-testid=\"stStatusWidget\"]').innerText.includes('Running')",
            timeout=timeout_ms)


async def session(browser, url: str, n: int, expected: dict, clock: dict, stats: dict) -> None:
    """One user: open the page, wait until every session has, then search until the clock runs out."""
    context = await browser.new_context(viewport={"width": 1200, "height": 900})
    page = await context.new_page()
    page.on("dialog", lambda d: (stats["dialogs"].append(d.message), asyncio.ensure_future(d.dismiss())))
    try:
        await page.goto(url + "/", wait_until="domcontentloaded", timeout=90_000)
        await page.locator(SEARCH_BOX).first.wait_for(timeout=120_000)
        clock["ready"] += 1
        if clock["ready"] == clock["sessions"]:
            clock["until"] = time.monotonic() + clock["seconds"]
            clock["go"].set()
        await clock["go"].wait()
        i = n  # each session starts at a different query
        while time.monotonic() < clock["until"]:
            odd = i % 5 == 4
            query = ODD[i % len(ODD)] if odd else QUERIES[i % len(QUERIES)]
            started = time.monotonic()
            try:
                await search(page, query, None if odd else expected[query], 120_000)
                stats["latencies"].append(time.monotonic() - started)
            except Exception as exc:  # noqa: BLE001 - a search that never came back is the finding
                stats["failures"].append(f"session {n}, {query[:40]!r}: {type(exc).__name__}: {str(exc)[:200]}")
            if await page.locator(EXCEPTION).count():
                text = await page.locator(EXCEPTION).first.inner_text()
                stats["exceptions"].append(f"session {n}, {query[:40]!r}: {text[:300]}")
                break
            stats["searches"][n] += 1
            i += 1
    finally:
        await context.close()


async def load(url: str, expected: dict, stats: dict) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            clock = {"sessions": SESSIONS, "seconds": SECONDS, "ready": 0, "go": asyncio.Event()}
            await asyncio.gather(*(session(browser, url, n, expected, clock, stats) for n in range(SESSIONS)))
            stats["seconds"] = SECONDS
        finally:
            await browser.close()


def test_ten_browser_sessions_search_for_a_minute(served):
    url, proc, expected = served
    # warm the server (model, index, first script run) so "before" is a served app, not a cold process
    stats = {"searches": [0] * SESSIONS, "latencies": [], "failures": [], "exceptions": [], "dialogs": []}
    asyncio.run(load_once(url, expected, stats))
    alone = sorted(stats["latencies"])
    before = rss_mib(proc.pid)

    stats = {"searches": [0] * SESSIONS, "latencies": [], "failures": [], "exceptions": [], "dialogs": []}
    asyncio.run(load(url, expected, stats))
    seconds = stats["seconds"]
    after = rss_mib(proc.pid)

    lat = sorted(stats["latencies"])
    report = {
        "sessions": SESSIONS, "seconds": round(seconds, 1), "searches": sum(stats["searches"]),
        "searches_per_session": stats["searches"], "failures": len(stats["failures"]),
        "exceptions": len(stats["exceptions"]), "dialogs": len(stats["dialogs"]),
        "latency_p50_s": round(lat[len(lat) // 2], 2) if lat else None,
        "latency_p95_s": round(lat[int(len(lat) * 0.95)], 2) if lat else None,
        "one_session_alone": {"searches": len(alone), "latency_p50_s": round(alone[len(alone) // 2], 2)},
        "server_rss_mib_before": round(before, 1), "server_rss_mib_after": round(after, 1),
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "load.json").write_text(json.dumps(report, indent=1))
    print("\nload:", json.dumps(report))
    assert stats["exceptions"] == []
    assert stats["dialogs"] == []
    assert stats["failures"] == []
    assert all(n > 0 for n in stats["searches"]), "a session never completed a search"
    assert proc.poll() is None, "the server died under load"


async def load_once(url: str, expected: dict, stats: dict) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            await session(browser, url, 0, expected, {"sessions": 1, "seconds": 10.0, "ready": 0,
                                                      "go": asyncio.Event()}, stats)
        finally:
            await browser.close()
    assert stats["exceptions"] == [] and stats["failures"] == []


HOSTILE_URLS = [
    "/?open=../../../../etc/passwd", "/?open=%2Fetc%2Fpasswd", "/?index=/etc&content=/etc&practice=/etc/passwd",
    "/?q=%3Cscript%3Ealert(3)%3C%2Fscript%3E&section=../../etc", "/?q=x&topic=%00&view=..%2F..",
    "/?q=" + "%F0%9F%98%80" * 500, "/?view=Browse&browse_topic=%3Cimg%20src%3Dx%20onerror%3Dalert(4)%3E",
]


async def visit_hostile(url: str) -> dict:
    from playwright.async_api import async_playwright

    found = {"exceptions": [], "dialogs": [], "leaks": []}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context()
            page = await context.new_page()
            page.on("dialog", lambda d: (found["dialogs"].append(d.message), asyncio.ensure_future(d.dismiss())))
            for path in HOSTILE_URLS:
                await page.goto(url + path, wait_until="domcontentloaded", timeout=120_000)
                await page.locator(SEARCH_BOX).first.wait_for(timeout=120_000)
                await page.wait_for_timeout(1500)
                if await page.locator(EXCEPTION).count():
                    found["exceptions"].append(path)
                if "root:x:0:0" in await page.content():
                    found["leaks"].append(path)
        finally:
            await browser.close()
    return found


def test_query_parameters_cannot_name_files_or_run_script(served):
    """URL parameters that name files or carry markup: no file is read, no script runs, no exception box."""
    url, proc, _ = served
    found = asyncio.run(visit_hostile(url))
    assert found == {"exceptions": [], "dialogs": [], "leaks": []}
    assert proc.poll() is None
