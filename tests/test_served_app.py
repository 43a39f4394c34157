"""A served instance (MLPREP_SERVED=1, ui/mode.py) in the app, flow by flow (streamlit.testing.v1.AppTest on the
fixture bank, as tests/test_practice_app.py): learners sign in with a passphrase and nobody sees or changes their
progress without it, not through `?learner=`, the name box or a forged click; the interview date is stored with the
learner; the bank is locked unless the editor key is typed; the page names no path and no one else's timings."""

from __future__ import annotations

from pathlib import Path

import pytest

from progress import auth, open_store
from progress.auth import Accounts
from test_editor_app import SECTION_TEXT, fill, snapshot
from test_practice_app import all_text, app, current_question, plain, summary_line  # noqa: F401 (app: fixture)

ROOT = Path(__file__).resolve().parent.parent
GOOD = "correct horse battery staple"


@pytest.fixture
def served(app, monkeypatch):
    monkeypatch.setenv("MLPREP_SERVED", "1")
    monkeypatch.delenv("MLPREP_EDITOR_KEY", raising=False)
    monkeypatch.delenv("MLPREP_READONLY", raising=False)
    monkeypatch.setattr(auth, "SCRYPT_N", 2 ** 10)  # cheaper hashes: this file signs in often
    return app


def sign_in(at, name: str, passphrase: str, confirm: str | None = None):
    at.text_input(key="sign-in-name").input(name)
    at.text_input(key="sign-in-passphrase").input(passphrase)
    if confirm is not None:
        at.text_input(key="sign-in-confirm").input(confirm)
    at.button(key="sign-in-submit").click()
    return at.run()


def create(at, name: str, passphrase: str = GOOD):
    at = sign_in(at, name, passphrase)  # the server says the name is new and asks to confirm
    assert "has a passphrase on this server yet" in all_text(at)
    return sign_in(at, name, passphrase, confirm=passphrase)


def content_of(app) -> Path:
    return Path(app.practice).parent / "content"  # the fixture bank's writable copy (conftest.content_dir)


def practising(at) -> bool:
    return any(m.value.startswith("Practising as") for m in at.markdown)


def rate_current(at, app, rating: str = "again"):
    q = current_question(at, app.index)
    at.button(key="reveal").click().run()
    at.button(key=f"rate-{rating}").click().run()
    assert not at.exception
    return q


def test_a_learner_signs_in_and_nobody_else_sees_or_changes_their_progress(served):
    alice = served().run()
    assert not alice.exception
    assert "Sign in with your name and passphrase" in all_text(alice) and not practising(alice)
    alice = create(alice, "alice")
    assert summary_line(alice).startswith("Practising as **alice**")
    assert "Signed in as **alice**" in "\n".join(m.value for m in alice.sidebar.markdown)
    q = rate_current(alice, served)
    assert "Weak so far" in all_text(alice)
    assert [r.question_id for r in open_store(served.database).reviews("alice")] == [q.id]

    # A second browser with alice's link: the name box is filled in, nothing of alice's is shown or offered.
    mallory = served(learner="alice").run()
    assert mallory.text_input(key="sign-in-name").value == "alice"
    assert not practising(mallory) and "Weak so far" not in all_text(mallory)
    assert not [b for b in mallory.get("download_button") if "weak" in b.proto.label]
    assert not any(b.key and b.key.startswith("rate-") for b in mallory.button)
    # the name box set to alice with no passphrase, then a wrong one: refused, and still nothing shown
    for guess in ("", "alice's birthday"):
        mallory = sign_in(mallory, "alice", guess)
        assert "Wrong name or passphrase" in all_text(mallory)
        assert not practising(mallory) and "Weak so far" not in all_text(mallory)
    # a forged session key named like the local learner box changes nothing either
    mallory.session_state["learner"] = "alice"
    mallory.query_params["learner"] = "alice"
    mallory.run()
    assert not practising(mallory) and "Weak so far" not in all_text(mallory)
    assert open_store(served.database).count_reviews() == 1

    # the right passphrase, in another session, is alice again, with her weak list
    again = sign_in(served().run(), "ALICE", GOOD)
    assert summary_line(again).startswith("Practising as **alice**") and "Weak so far" in all_text(again)


def test_there_is_no_shared_default_learner(served):
    at = served().run()
    assert not practising(at) and "default" not in all_text(at).lower().replace("by default", "")
    at = sign_in(at, "default", GOOD)
    at = sign_in(at, "default", GOOD, confirm=GOOD)
    assert "shared learner of a local copy" in all_text(at) and not practising(at)
    assert "learner" not in [w.key for w in at.text_input], "no local learner box"


def test_wrong_passphrases_are_slowed_down_and_sign_out_ends_the_sign_in(served):
    at = create(served().run(), "bob")
    at.button(key="sign-out").click().run()
    assert not practising(at) and "Signed out" in all_text(at)
    for i in range(3):
        at = sign_in(at, "bob", f"wrong guess {i}")
    assert "Too many wrong tries: wait 1 second" in all_text(at)
    at = sign_in(at, "bob", GOOD)  # at once: still blocked, the right passphrase is not even checked
    assert "Too many wrong tries" in all_text(at) and not practising(at)


def test_the_interview_date_is_stored_with_the_learner(served):
    at = create(served(interview="2026-12-20").run(), "carol")  # the link pre-fills the date of a new learner
    assert "before your interview" in summary_line(at)
    assert Accounts(open_store(served.database)).interview("carol").isoformat() == "2026-12-20"
    at.date_input(key="interview").set_value(None).run()
    assert Accounts(open_store(served.database)).interview("carol") is None
    # none stored: a link's date is taken and stored; once stored, it is the truth over a later link's
    later = sign_in(served(interview="2026-12-24").run(), "carol", GOOD)
    assert "before your interview" in summary_line(later)
    assert Accounts(open_store(served.database)).interview("carol").isoformat() == "2026-12-24"
    third = sign_in(served(interview="2026-12-28").run(), "carol", GOOD)
    assert third.date_input(key="interview").value.isoformat() == "2026-12-24"
    assert Accounts(open_store(served.database)).interview("carol").isoformat() == "2026-12-24"


# --------------------------------------------------------------------------- the bank, locked
def test_the_bank_is_locked_without_an_editor_key_even_for_a_forged_form(served):
    before = snapshot(content_of(served))
    at = served(open="k-means").run()
    assert not at.exception
    keys = [b.key for b in at.button]
    labels = [b.label for b in at.button]
    assert "new-question" not in keys and "edit-question" not in keys and "Rebuild index" not in labels
    assert not any(e.label == "Editors" for e in at.sidebar.expander), "no key set: nothing to unlock"
    at.session_state["editor"] = {"mode": "new", "id": None, "sha": None, "token": "ed9", "draft": False,
                                  "topics": [], "attempted": False, "refusals": [],
                                  "q": at.session_state["q"], "view": at.session_state["view"]}
    at.run()
    assert "locked on this server" in " ".join(w.value for w in at.warning)
    assert not any(w.key == "ed9-title" for w in at.text_input)
    assert snapshot(content_of(served)) == before


def test_an_editor_unlocks_with_the_key_and_a_locked_session_cannot_save(served, monkeypatch):
    monkeypatch.setenv("MLPREP_EDITOR_KEY", "the editors' own key")
    at = served().run()
    assert "new-question" not in [b.key for b in at.button]
    at.text_input(key="editor-key").input("a guess")
    at.button(key="editor-unlock").click().run()
    assert "not the editor key" in plain(" ".join(e.value for e in at.error))
    assert "new-question" not in [b.key for b in at.button]
    at.text_input(key="editor-key").input("the editors' own key")
    at.button(key="editor-unlock").click().run()
    assert "new-question" in [b.key for b in at.button] and "Rebuild index" in [b.label for b in at.button]
    at.button(key="new-question").click().run()
    fill(at, **SECTION_TEXT)
    # locked again (or another session's forged click) while the form is on screen: the save writes nothing
    before = snapshot(content_of(served))
    at.session_state["_editor-unlocked"] = False
    at.button(key="editor-save").click().run()
    assert snapshot(content_of(served)) == before
    assert "locked on this server" in " ".join(w.value for w in at.warning)


# --------------------------------------------------------------------------- nothing internal
def test_the_served_page_names_no_path_and_no_ones_timings(served):
    at = served(q="k-means clustering").run()
    at = create(at, "dana")
    texts = [str(e.proto) for e in at.main] + [str(e.proto) for e in at.sidebar]
    whole = "\n".join(texts)
    assert str(ROOT) not in whole and str(served.database.parent) not in whole and "/tmp" not in whole
    assert "Progress kept in" not in whole and "Server-side search time" not in whole
    about = next(e for e in at.sidebar.expander if e.label == "About this server")
    shown = "\n".join(m.value for m in about.markdown)
    assert "3 questions" in shown and "fake\\-bow" in shown and "Built" in shown


def test_signing_out_elsewhere_ends_the_sign_in_before_a_rating_on_screen_is_recorded(served):
    at = create(served().run(), "erin")
    at.button(key="reveal").click().run()
    Accounts(open_store(served.database)).sign_out(at.session_state["_signed-in"]["token"])  # another tab
    at.button(key="rate-good").click().run()
    assert not at.exception
    assert open_store(served.database).count_reviews("erin") == 0
    assert not practising(at) and "Sign in with your name and passphrase" in all_text(at)


def test_a_served_page_shows_no_stack_trace_even_when_started_without_make_serve(served):
    from streamlit import config

    before = config.get_option("client.showErrorDetails")
    try:
        config.set_option("client.showErrorDetails", "full")  # as a bare `streamlit run` would have it
        served().run()
        assert config.get_option("client.showErrorDetails") == "none"
    finally:
        config.set_option("client.showErrorDetails", before)
