"""A served instance in real browsers: the app started as `make serve` starts it (MLPREP_SERVED=1,
--client.showErrorDetails none; tests/appserver.py) over the real bank, driven by Debian's headless Chromium.

Alice signs in (a passphrase set on first use), rates a card, and a reload keeps her signed in (the
`mlprep_sign_in` cookie). A second browser cannot see or change her cards without the passphrase: not with her
link (`?learner=alice`), not by typing her name with a wrong passphrase, not with a made-up cookie, and not with
forged widget values sent down Streamlit's websocket the way a hand-made client would. A visitor without the editor
key is offered no New question / Edit / Rebuild, and a forged save writes nothing. No page holds the checkout's
absolute path. Screenshots: tests/artifacts/30-served-signed-in.png, 31-served-visitor.png."""

from __future__ import annotations

import asyncio
import concurrent.futures
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from appserver import serve_app
from test_browser import browser, pytestmark  # noqa: F401 (the same marks and skip, the same Chromium)

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
PASSPHRASE = "alice keeps her own cards"
SIDEBAR = '[data-testid="stSidebar"]'
MAIN = '[data-testid="stMain"]'


@pytest.fixture(scope="module")
def served(real_index, tmp_path_factory):
    """(base URL, progress database, content folder): the real bank served as `make serve` serves it."""
    base = tmp_path_factory.mktemp("served-mode")
    content = base / "content"
    shutil.copytree(ROOT / "content", content)
    with serve_app(real_index, content, base / "practice.json", base / "streamlit.log",
                   extra_args=("--client.showErrorDetails", "none"), env_extra={"MLPREP_SERVED": "1"}) as (url, _, _):
        yield url, base / "progress.db", content


def _sign_in(page, name: str, passphrase: str, confirm: bool = False) -> None:
    side = page.locator(SIDEBAR)
    side.get_by_label("Name", exact=True).fill(name)
    side.get_by_label("Passphrase", exact=True).fill(passphrase)
    if confirm:
        side.get_by_label("Confirm the new passphrase").fill(passphrase)
        side.get_by_role("button", name="Create learner and sign in").click()
    else:
        side.get_by_role("button", name="Sign in").click()


def _main_text(page) -> str:
    return page.locator(MAIN).inner_text()


def _no_checkout_path(page) -> None:
    html = page.content()
    assert str(ROOT) not in html and "/tmp/" not in html, "the page names a path on the server"


def test_private_progress_a_kept_sign_in_and_a_locked_bank(served, browser):
    url, database, content = served
    ARTIFACTS.mkdir(exist_ok=True)
    alice_ctx = browser.new_context(viewport={"width": 1280, "height": 1600})
    mallory_ctx = browser.new_context(viewport={"width": 1280, "height": 1600})
    try:
        alice = alice_ctx.new_page()
        alice.goto(f"{url}/?view=Practice")
        alice.get_by_text("Sign in with your name and passphrase", exact=False).first.wait_for(timeout=90_000)
        _no_checkout_path(alice)
        _sign_in(alice, "alice", PASSPHRASE)
        alice.get_by_text("has a passphrase on this server yet", exact=False).first.wait_for(timeout=30_000)
        _sign_in(alice, "alice", PASSPHRASE, confirm=True)
        alice.get_by_text("Practising as alice", exact=False).first.wait_for(timeout=30_000)
        alice.get_by_role("button", name="Show the model answer").click()
        alice.get_by_role("button", name="Again", exact=True).click()
        alice.get_by_text("Recorded Again", exact=False).first.wait_for(timeout=30_000)
        alice.get_by_text("Weak so far", exact=False).first.wait_for(timeout=30_000)
        cookie = next(c for c in alice_ctx.cookies() if c["name"] == "mlprep_sign_in")
        assert cookie["sameSite"] == "Strict" and cookie["path"] == "/" and PASSPHRASE not in cookie["value"]
        assert 11.9 * 3600 < cookie["expires"] - time.time() <= 12 * 3600 + 5
        alice.screenshot(path=ARTIFACTS / "30-served-signed-in.png", full_page=True)

        alice.reload()  # a reload within the sitting: still alice, no passphrase typed
        alice.get_by_text("Practising as alice", exact=False).first.wait_for(timeout=60_000)
        assert "Weak so far" in _main_text(alice)
        _no_checkout_path(alice)

        # Mallory, in another browser, with alice's link: the name box is filled in and nothing else.
        mallory = mallory_ctx.new_page()
        mallory.goto(f"{url}/?view=Practice&learner=alice")
        mallory.get_by_text("Sign in with your name and passphrase", exact=False).first.wait_for(timeout=60_000)
        name_box = mallory.locator(SIDEBAR).get_by_label("Name", exact=True)
        name_box.wait_for(timeout=30_000)  # the sidebar is drawn after the page body
        mallory.wait_for_function("(b) => b.value === 'alice'", arg=name_box.element_handle(), timeout=10_000)
        text = _main_text(mallory)
        assert "Practising as" not in text and "Weak so far" not in text
        assert mallory.get_by_role("button", name="Again", exact=True).count() == 0
        _sign_in(mallory, "alice", "a wrong guess at it")
        mallory.get_by_text("Wrong name or passphrase", exact=False).first.wait_for(timeout=30_000)
        assert "Practising as" not in _main_text(mallory)
        # a made-up sign-in cookie is no sign-in
        mallory_ctx.add_cookies([{"name": "mlprep_sign_in", "value": "A" * 43, "url": url}])
        mallory.reload()
        mallory.get_by_text("Sign in with your name and passphrase", exact=False).first.wait_for(timeout=60_000)
        assert "Practising as" not in _main_text(mallory)
        # the bank is locked: nothing to edit or rebuild, on the search page or a question's
        mallory.goto(f"{url}/?open=feature-leakage")
        mallory.get_by_text("What is feature leakage", exact=False).first.wait_for(timeout=60_000)
        for label in ("New question", "Edit", "Rebuild index"):
            assert mallory.get_by_role("button", name=label, exact=True).count() == 0, label
        mallory.locator(SIDEBAR).get_by_text("About this server").click()
        about = mallory.locator(SIDEBAR).inner_text()
        assert "questions" in about and "Model" in about and "Built" in about
        assert "Server-side search time" not in about and "Progress kept in" not in about
        _no_checkout_path(mallory)
        mallory.screenshot(path=ARTIFACTS / "31-served-visitor.png", full_page=True)
    finally:
        alice_ctx.close()
        mallory_ctx.close()

    # Forged widget values, sent down the websocket as a hand-made client would.
    before = sorted(p.name for p in content.iterdir())
    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # Playwright's sync API holds this thread's loop
        shown = pool.submit(asyncio.run, _forged_session(url)).result(timeout=300)
    assert b"Wrong name or passphrase" in shown[1], "the forged sign-in was checked, and refused"
    for payloads in shown:
        assert b"Practising as" not in payloads and b"Weak so far" not in payloads
        assert str(ROOT).encode() not in payloads
    assert sorted(p.name for p in content.iterdir()) == before, "a forged save wrote to the bank"
    with sqlite3.connect(database) as conn:
        rows = conn.execute("SELECT l.name, r.rating, r.source FROM reviews r JOIN learners l "
                            "ON l.id = r.learner_id").fetchall()
    assert rows == [("alice", 1, "app")], "only alice's own rating is recorded"


async def _forged_session(url: str, headers: dict | None = None) -> list[bytes]:
    """Open a session on `?view=Practice&learner=alice`, then send reruns whose widget values claim to be alice:
    the sign-in form submitted with her name and no passphrase, a made-up "learner" box, a rating button and the
    editor's Save (ids as Streamlit would make them for those keys). Returns each run's messages."""
    import websockets
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    ws = await websockets.connect(url.replace("http://", "ws://") + "/_stcore/stream", subprotocols=["streamlit"],
                                  max_size=None, additional_headers=headers)
    page_hash, ids, runs = "", {}, []

    async def run(widgets: list[tuple[str, str, object]]) -> bytes:
        nonlocal page_hash
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = "view=Practice&learner=alice"
        state.page_script_hash = page_hash
        for widget_id, kind, value in widgets:
            w = state.widget_states.widgets.add()
            w.id = widget_id
            setattr(w, kind, value)
        await ws.send(msg.SerializeToString())
        payloads = []
        while True:
            raw = await asyncio.wait_for(ws.recv(), 120)
            fwd = ForwardMsg.FromString(raw)
            kind = fwd.WhichOneof("type")
            if kind == "new_session":
                page_hash = fwd.new_session.main_script_hash
            elif kind == "delta":
                payloads.append(raw)
                element = fwd.delta.new_element
                which = element.WhichOneof("type")
                if which in ("text_input", "button"):
                    widget = getattr(element, which)
                    ids[widget.label] = widget.id
            elif kind == "script_finished":
                return b"".join(payloads)

    try:
        runs.append(await run([]))
        assert "Name" in ids and "Sign in" in ids, sorted(ids)
        runs.append(await run([(ids["Name"], "string_value", "alice"), (ids["Passphrase"], "string_value", ""),
                               (ids["Sign in"], "trigger_value", True)]))
        forged = [(f"$$ID-{'0' * 32}-learner", "string_value", "alice"),
                  (f"$$ID-{'0' * 32}-rate-again", "trigger_value", True),
                  (f"$$ID-{'0' * 32}-editor-save", "trigger_value", True),
                  (f"$$ID-{'0' * 32}-new-question", "trigger_value", True)]
        runs.append(await run(forged))
    finally:
        await ws.close()
    return runs


def test_the_back_off_counts_the_address_a_local_proxy_forwards(served):
    """Behind nginx on the same host every connection comes from 127.0.0.1; Streamlit's server (uvicorn) takes the
    client from X-Forwarded-For for such a peer, so a wrong passphrase is counted and logged against the student's
    own address, not the proxy's (which would let one student's typos block the class)."""
    url, database, _ = served
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        runs = pool.submit(asyncio.run, _forged_session(url, {"X-Forwarded-For": "203.0.113.9"})).result(timeout=300)
    assert b"Wrong name or passphrase" in runs[1] or b"Too many wrong tries" in runs[1]
    log = database.with_name("streamlit.log").read_text(errors="replace")
    assert "learner 'alice' from 203.0.113.9" in log
    with sqlite3.connect(database) as conn:
        clients = {r[0] for r in conn.execute("SELECT subject FROM sign_in_failures WHERE kind = 'client'")}
    assert "203.0.113.9" in clients
