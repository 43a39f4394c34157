"""New question and Edit in the app (streamlit.testing.v1.AppTest on a fake-embedder index of the fixture bank):
a save is searchable without a restart, every refusal writes nothing and says why under its field, an edit keeps
its id and a backup that can be restored, a draft's title is confirmed, and a read-only server shows no form and
writes nothing even when the session is manipulated."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ingest.content import SECTIONS
from ui.render import escape_md
from test_app import app, search, texts  # noqa: F401  (app is the fixture: AppTest on a fake-embedder index)

TITLE = "What is zebraquux pooling?"
SECTION_TEXT = {"short": "Zebraquux pooling averages the strongest activations of each window.",
                "explanation": "It keeps the top activations, then averages them.",
                "example": "A 2x2 window over a feature map keeps its two largest values.",
                "mistakes": "Confusing zebraquux pooling with max pooling.",
                "story": "A vision team replaced max pooling with zebraquux pooling and gained a point of accuracy."}
DRAFT = """---
title: "What does this describe: a model memorises its training data?"
topics: [imported]
draft: true
---

## Short answer

Memorising the training set instead of learning the pattern.

## Explanation

The model fits noise.

## Example

A deep tree with one sample per leaf.

## Common mistakes

Judging by training accuracy.

## Production story

A churn model that was perfect offline failed in production.
"""


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def token(at) -> str:
    return at.session_state["editor"]["token"]


def fill(at, title=TITLE, qid=None, topics=("evaluation",), new_topics="", aliases="zebraquux", **sections):
    """Type a whole form (as a user would, one field at a time) and return the AppTest, not yet saved."""
    t = token(at)
    if qid is not None:
        at.text_input(key=f"{t}-id").input(qid)
    at.text_input(key=f"{t}-title").input(title)
    at.multiselect(key=f"{t}-topics").set_value(list(topics))
    at.text_input(key=f"{t}-new-topics").input(new_topics)
    at.text_input(key=f"{t}-aliases").input(aliases)
    for key, _ in SECTIONS:
        at.text_area(key=f"{t}-{key}").input(sections.get(key, SECTION_TEXT[key]))
    return at


def new_form(app):
    at = app().run()
    assert not at.exception
    at.button(key="new-question").click().run()
    assert any(m.value == "### New question" for m in at.markdown)
    return at


def save(at):
    at.button(key="editor-save").click().run()
    assert not at.exception, at.exception
    return at


def until_ready(at, tries: int = 200):
    """Rerun until the page says the save is searchable (the index is built in a background thread)."""
    for _ in range(tries):
        if "searchable now" in " ".join(s.value for s in at.success):
            return at
        time.sleep(0.05)
        at.run()
    raise AssertionError("the index never caught up: " + texts(at))


def errors(at) -> str:
    """The error messages on the page, unescaped."""
    return "\n".join(e.value for e in at.error).replace("\\", "")


# --------------------------------------------------------------------------- a successful save
def test_a_new_question_is_written_indexed_and_found_by_search_without_a_restart(app):
    at = save(fill(new_form(app), new_topics="pooling, vision"))
    # no id typed: it is made from the title
    assert any("Saved content/what-is-zebraquux-pooling.md" in s.value.replace("\\", "") for s in at.success)
    written = (app.content_dir / "what-is-zebraquux-pooling.md").read_text(encoding="utf-8")
    assert 'title: "What is zebraquux pooling?"' in written and "draft" not in written
    assert "topics: [evaluation, pooling, vision]" in written
    until_ready(at)
    assert any("4 questions" in m.value for m in at.sidebar.markdown), "the sidebar shows the new index"
    at.button(key="saved-open").click().run()
    assert any(m.value == "### " + escape_md(TITLE) for m in at.markdown)
    fresh = search(app().run(), "zebraquux pooling")  # another session, same server process
    assert fresh.session_state["q"] == "zebraquux pooling"
    assert "What is zebraquux pooling?" in texts(fresh).replace("\\", "")


def test_validation_is_shown_under_each_field_and_the_fix_is_saved(app):
    before = snapshot(app.content_dir)
    at = save(fill(new_form(app), title="", topics=(), aliases="a, , b", example=""))
    assert snapshot(app.content_dir) == before
    shown = errors(at)
    assert "missing title" in shown and "topics is empty" in shown
    assert 'section "Example" is empty; write its text under the heading' in shown
    t = token(at)
    at.text_input(key=f"{t}-title").input(TITLE).run()
    assert "missing title" not in errors(at), "a fixed field loses its message at once"
    assert "topics is empty" in errors(at)
    at.multiselect(key=f"{t}-topics").set_value(["evaluation"])
    at.text_area(key=f"{t}-example").input(SECTION_TEXT["example"])
    save(at)
    assert (app.content_dir / "what-is-zebraquux-pooling.md").is_file()


# --------------------------------------------------------------------------- refusals
def test_a_new_question_on_a_taken_id_is_refused(app):
    before = snapshot(app.content_dir)
    at = save(fill(new_form(app), qid="k-means"))
    assert "a question with the id 'k-means' already exists" in errors(at)
    assert snapshot(app.content_dir) == before
    assert "editor-save" in [b.key for b in at.button], "the form stays open with what was typed"


@pytest.mark.parametrize("qid", ["../escape", "a/b", "x.md", ".hidden", "con", "Upper", "two words", "/etc/passwd"])
def test_an_id_that_is_not_lowercase_words_and_hyphens_is_refused(app, tmp_path, qid):
    at = fill(new_form(app), qid=qid)
    before = snapshot(tmp_path)  # after the page's first run (which may create the practice store in tmp_path)
    save(at)
    assert "the id " in errors(at) and ("lowercase words" in errors(at) or "reserved device name" in errors(at))
    assert snapshot(tmp_path) == before, "nothing anywhere, not even a backup folder"


def test_an_empty_section_is_refused(app):
    before = snapshot(app.content_dir)
    at = save(fill(new_form(app), story="   "))
    assert 'section "Production story" is empty' in errors(at)
    assert snapshot(app.content_dir) == before


def test_a_file_changed_on_disk_since_the_form_opened_is_refused_and_can_be_reopened(app):
    at = app(open="k-means").run()
    at.button(key="edit-question").click().run()
    t = token(at)
    path = app.content_dir / "k-means.md"
    hand_edit = path.read_text(encoding="utf-8").replace("## Example", "## Example\n\nA hand edit.", 1)
    path.write_text(hand_edit, encoding="utf-8")
    at.text_input(key=f"{t}-title").input("A title typed in the form").run()
    save(at)
    assert "changed on disk since you opened it" in errors(at)
    assert path.read_text(encoding="utf-8") == hand_edit and not (app.content_dir / ".backups").exists()
    at.button(key="editor-reopen").click().run()
    assert token(at) != t
    assert at.text_area(key=f"{token(at)}-example").value.startswith("A hand edit.")


# --------------------------------------------------------------------------- edits, backups, drafts
def test_an_edit_keeps_the_id_keeps_a_backup_and_the_backup_can_be_restored(app):
    original = (app.content_dir / "roc-auc.md").read_bytes()
    at = app(open="roc-auc").run()
    at.button(key="edit-question").click().run()
    t = token(at)
    assert not any(w.key == f"{t}-id" for w in at.text_input), "an edit has no id field"
    at.text_area(key=f"{t}-short").input("ROC AUC is the chance a random positive outranks a random negative.")
    save(at)
    assert not (app.content_dir / "roc-auc-2.md").exists()
    assert b"chance a random positive outranks" in (app.content_dir / "roc-auc.md").read_bytes()
    backups = sorted((app.content_dir / ".backups").iterdir())
    assert [b.read_bytes() for b in backups] == [original]
    assert any("kept as a backup" in s.value for s in at.success)
    until_ready(at)

    at.button(key="saved-edit").click().run()
    assert at.main.expander[-1].label == "Earlier versions (1)"
    at.button(key="editor-restore").click().run()
    assert not at.exception
    assert (app.content_dir / "roc-auc.md").read_bytes() == original
    assert len(list((app.content_dir / ".backups").iterdir())) == 2, "the replaced version became a backup too"
    assert any(s.value.replace("\\", "").startswith("Restored content/roc-auc.md") for s in at.success)


def test_a_draft_is_listed_as_needing_a_title_and_confirming_it_clears_the_flag(app):
    (app.content_dir / "memorising.md").write_text(DRAFT, encoding="utf-8")
    app.build(app.content_dir, app.index_dir)
    at = app().run()
    assert any(s.value == "Needs a title" for s in at.sidebar.subheader)
    at.button(key="draft-memorising").click().run()
    t = token(at)
    assert at.checkbox(key=f"{t}-confirm").value is False
    at.text_input(key=f"{t}-title").input("What is overfitting by memorisation?")
    at.multiselect(key=f"{t}-topics").set_value(["fundamentals"])
    save(at)
    assert "draft: true" in (app.content_dir / "memorising.md").read_text(encoding="utf-8"), "not confirmed yet"
    at.button(key="saved-edit").click().run()
    at.checkbox(key=f"{token(at)}-confirm").check()
    save(at)
    text = (app.content_dir / "memorising.md").read_text(encoding="utf-8")
    assert "draft" not in text and 'title: "What is overfitting by memorisation?"' in text
    until_ready(at)
    assert not any(s.value == "Needs a title" for s in at.sidebar.subheader)


# --------------------------------------------------------------------------- read-only
def test_read_only_shows_no_form_and_no_buttons(app, monkeypatch):
    (app.content_dir / "memorising.md").write_text(DRAFT, encoding="utf-8")
    app.build(app.content_dir, app.index_dir)
    monkeypatch.setenv("MLPREP_READONLY", "1")
    at = app(open="k-means").run()
    assert not at.exception
    keys = [b.key for b in at.button]
    assert "new-question" not in keys and "edit-question" not in keys
    at.button(key="draft-memorising").click().run()  # the list opens the question, not a form
    assert at.query_params["open"] in ("memorising", ["memorising"])
    assert "editor" not in at.session_state


def test_read_only_refuses_a_manipulated_session_and_a_save_already_on_screen(app, monkeypatch):
    before = snapshot(app.content_dir)
    at = fill(new_form(app))
    monkeypatch.setenv("MLPREP_READONLY", "1")  # switched off while the form is open: the click is a forged write
    save(at)
    assert snapshot(app.content_dir) == before
    assert "Editing is switched off" in " ".join(w.value for w in at.warning)
    assert not any(w.key and w.key.startswith("ed") and w.key.endswith("-title") for w in at.text_input)

    forged = app().run()
    forged.session_state["editor"] = {"mode": "edit", "id": "k-means", "sha": "0" * 64, "token": "ed9",
                                      "q": forged.session_state["q"], "view": forged.session_state["view"]}
    forged.run()
    assert "Editing is switched off" in " ".join(w.value for w in forged.warning)
    assert not any(w.key == "ed9-title" for w in forged.text_input)
    assert snapshot(app.content_dir) == before


def test_search_keeps_answering_from_the_live_index_while_the_save_is_indexed(app):
    from ui.resources import build_lock

    lock = build_lock()  # the app's own lock (one per process): held here, the update waits behind it
    lock.acquire()
    try:
        at = save(fill(new_form(app), qid="zebraquux-pooling"))
        assert any(i.value.startswith("Updating the index") for i in at.info)
        search(at, "what does ROC AUC measure")  # leaves the saved page for the results
        assert "What does ROC AUC measure?" in texts(at).replace("\\", ""), "the live index answers meanwhile"
        assert "zebraquux" not in texts(at)
        assert any(i.value.startswith("Updating the index") for i in at.sidebar.info), "the sidebar says so"
    finally:
        lock.release()
    until_ready(at)
    assert any("searchable now" in s.value for s in at.sidebar.success)
    search(at, "zebraquux pooling")
    assert "What is zebraquux pooling?" in texts(at).replace("\\", "")


def test_a_forged_edit_of_a_path_is_refused_on_a_writable_server(app, tmp_path):
    at = app().run()
    at.session_state["editor"] = {"mode": "edit", "id": "../escape", "sha": "0" * 64, "token": "ed9",
                                  "q": at.session_state["q"], "view": at.session_state["view"]}
    at.run()
    fill(at)
    before = snapshot(tmp_path)
    save(at)
    assert "the id must be lowercase words joined by hyphens" in errors(at)
    assert snapshot(tmp_path) == before
