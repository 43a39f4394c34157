"""New question and Edit: a form over `ingest.edit`, its inline validation, backups, and the sidebar's buttons.

The form's checks are ingest's own (`ingest.content.check_fields` through `ingest.edit.save_question`), so a form
problem reads exactly as the same problem in a file. Nothing here writes a file itself: `save_question` and
`restore_backup` check the id, the collision, the file's hash and `MLPREP_READONLY` on every call, so a manipulated
session or a forged widget message is refused as firmly as a wrong form. On a served instance the bank is locked
unless MLPREP_EDITOR_KEY is set and this session typed it (ui/mode.py): every callback that opens a form or writes
checks `editing_allowed()` again, so a forged click from a locked session writes nothing.

After a save the index catches up in the background, and the "Needs a title" list is read from the content folder,
in ui/editor_updates.py; the names it provides stay importable from here.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from index.errors import ContentErrors, UnknownQuestion
from ingest.content import FORM, SECTIONS, QuestionFields, check_fields, suggest_id
from ingest.edit import EditRefused, list_backups, open_question, read_only, restore_backup, save_question
from progress import ProgressError

from ..editor_updates import (PENDING, Reindexer, ReindexStatus, drafts, index_status,  # noqa: F401 (re-exported)
                              reindexer, request_update)
from ..mode import EDITOR_UNLOCKED, client_address, editing_allowed, editor_key_matches, editor_key_set, log, served
from ..navigation import open_question as open_question_page
from ..render import escape_md
from ..resources import Paths

EDITOR = "editor"  # session key: the open form (a dict, see _open); absent when no form is open
_FORMS = "editor-forms"  # session key: a counter, so each opened form gets fresh widget keys
_READ_ONLY_NOTE = "Editing is switched off on this server (MLPREP_READONLY is set): nothing can be written here."
_LOCKED_NOTE = "The question bank is locked on this server: nothing can be written here."


# --------------------------------------------------------------------------- opening and closing a form
def _open(mode: str, qid: str | None, fields: QuestionFields | None, sha: str | None) -> None:
    n = st.session_state.get(_FORMS, 0) + 1
    st.session_state[_FORMS] = n
    token = f"ed{n}"
    fields = fields or QuestionFields("", (), (), {key: "" for key, _ in SECTIONS})
    st.session_state[f"{token}-id"] = ""
    st.session_state[f"{token}-title"] = fields.title
    st.session_state[f"{token}-topics"] = list(fields.topics)
    st.session_state[f"{token}-new-topics"] = ""
    st.session_state[f"{token}-aliases"] = ", ".join(fields.aliases)
    for key, _ in SECTIONS:
        st.session_state[f"{token}-{key}"] = fields.sections.get(key, "")
    st.session_state[f"{token}-confirm"] = False
    # q and view as they were: searching or switching the view leaves the form (see editor_open)
    st.session_state[EDITOR] = {"mode": mode, "id": qid, "sha": sha, "token": token, "draft": fields.draft,
                                "topics": list(fields.topics), "attempted": False, "refusals": [],
                                "q": st.session_state.get("q"), "view": st.session_state.get("view")}


def open_new() -> None:
    if editing_allowed():
        _open("new", None, None, None)


def open_edit(content_dir: Path, qid: str) -> None:
    """Open the edit form of `qid` on the file as it is now (its hash is what the save is checked against)."""
    if not editing_allowed():
        return
    try:
        fields, sha = open_question(content_dir, qid)
    except UnknownQuestion:
        st.session_state["editor-error"] = f"There is no file for the question {qid[:80]!r} in the content folder."
        return
    except ContentErrors as exc:
        st.session_state["editor-error"] = ("This question's file has problems, so the form cannot be filled from "
                                            "it; fix it by hand first:\n" + "\n".join(str(e) for e in exc.errors))
        return
    _open("edit", qid, fields, sha)


def close_editor() -> None:
    st.session_state.pop(EDITOR, None)


def editor_open() -> bool:
    """Whether the page shows a form: one was opened and the user has not searched or switched view since."""
    state = st.session_state.get(EDITOR)
    if not isinstance(state, dict):
        return False
    if st.session_state.get("q") != state.get("q") or st.session_state.get("view") != state.get("view"):
        close_editor()
        return False
    return True


# --------------------------------------------------------------------------- the form
def _split(text: str) -> list[str]:
    return [part.strip() for part in str(text).split(",") if part.strip()]


def _fields(token: str, draft: bool) -> QuestionFields:
    ss = st.session_state
    topics = list(dict.fromkeys([*ss.get(f"{token}-topics", []), *_split(ss.get(f"{token}-new-topics", ""))]))
    sections = {key: str(ss.get(f"{token}-{key}", "")) for key, _ in SECTIONS}
    still_draft = draft and not ss.get(f"{token}-confirm", False)
    return QuestionFields(str(ss.get(f"{token}-title", "")), tuple(topics), tuple(_split(ss.get(f"{token}-aliases", ""))),
                          sections, still_draft)


def _form_id(state: dict) -> str:
    """The id to save under: an edit keeps its id; a new question takes the typed one, or one made from the title."""
    if state["mode"] == "edit":
        return str(state.get("id") or "")
    typed = str(st.session_state.get(f"{state['token']}-id", ""))
    if typed:
        return typed  # untrusted: save_question refuses anything but lowercase words and hyphens
    title = str(st.session_state.get(f"{state['token']}-title", ""))
    return suggest_id(title) if title.strip() else ""


def _saved(state: dict, paths: Paths, model: str | None, result, what: str) -> None:
    ticket = request_update(paths, model, result.question_id)
    state.update(mode="saved", id=result.question_id, what=what, backup=result.backup.name if result.backup else None,
                 path=result.path.relative_to(paths.content_dir).as_posix() if result.path else f"{result.question_id}.md",
                 ticket=ticket)


def _on_save(paths: Paths, model: str | None) -> None:
    state = st.session_state.get(EDITOR)
    if not isinstance(state, dict) or state.get("mode") not in ("new", "edit") or not editing_allowed():
        return
    state["attempted"] = True
    sha = state.get("sha") if state["mode"] == "edit" else None
    result = save_question(paths.content_dir, _form_id(state), _fields(state["token"], bool(state.get("draft"))), sha)
    if result.saved:
        _saved(state, paths, model, result, "Saved")
        return
    # Problems the form's own check finds are shown live from now on; the rest (collision, changed on disk,
    # read-only) only the save can know, so they stay until the next save.
    state["refusals"] = [(p.field, p.message) for p in result.problems
                         if (p.field, p.message) not in set(_problems(state))]


def _on_restore(paths: Paths, model: str | None, name_key: str) -> None:
    state = st.session_state.get(EDITOR)
    if not isinstance(state, dict) or state.get("mode") != "edit" or not editing_allowed():
        return
    try:
        result = restore_backup(paths.content_dir, str(state["id"]), str(st.session_state.get(name_key, "")),
                                state.get("sha"))
    except EditRefused as exc:
        state["refusals"] = [(FORM, str(exc))]
        return
    if result.saved:
        _saved(state, paths, model, result, "Restored")
    else:
        state["refusals"] = [(p.field, p.message) for p in result.problems]


def _reopen(paths: Paths) -> None:
    state = st.session_state.get(EDITOR)
    if isinstance(state, dict) and state.get("id"):
        open_edit(paths.content_dir, str(state["id"]))


def _problems(state: dict) -> list[tuple[str, str]]:
    fields = _fields(state["token"], bool(state.get("draft")))
    _, _, problems = check_fields(_form_id(state), fields)
    if problems and problems[0].field == "id":  # ingest stops at a bad id; the form still checks the other fields
        problems += check_fields("question", fields)[2]
    return [(p.field, p.message) for p in problems]


def _show(problems: list[tuple[str, str]], field: str) -> None:
    for f, message in problems:
        if f == field:
            st.error(escape_md(message), icon=":material/error:")


def edit_button(question_id: str) -> None:
    """The "Edit" button of a question's page (none where this session may not edit)."""
    if editing_allowed():
        st.button("Edit", key="edit-question", icon=":material/edit:", on_click=open_edit,
                  args=(Paths.from_env().content_dir, question_id))


def editor_view(idx, paths: Paths) -> None:
    """The open form (New question or Edit), or what a save did and whether the index has caught up."""
    state = st.session_state.get(EDITOR)
    if not editing_allowed():  # a form must not appear, whatever the session state says
        close_editor()
        st.warning(_READ_ONLY_NOTE if read_only() else _LOCKED_NOTE)
        return
    needs = {"new": ("token",), "edit": ("token", "id"), "saved": ("token", "id", "path", "ticket")}
    if not isinstance(state, dict) or not all(state.get(k) for k in needs.get(state.get("mode"), ("?",))):
        close_editor()
        st.warning("This form is no longer open; start again from “New question” or a question's “Edit”.")
        return
    if state["mode"] == "saved":
        _saved_view(state, paths)
        return
    model = idx.manifest.get("model", {}).get("source")
    token = state["token"]
    editing = state["mode"] == "edit"
    st.button("Cancel", key="editor-cancel", on_click=close_editor, icon=":material/close:")
    st.markdown(f"### Edit: {escape_md(state['id'])}" if editing else "### New question")
    problems = [*(_problems(state) if state.get("attempted") else []), *state.get("refusals", [])]
    _show(problems, FORM)
    if editing and any(f == FORM and "changed on disk" in m for f, m in state.get("refusals", [])):
        st.button("Reopen the version on disk (your changes here are discarded)", key="editor-reopen",
                  on_click=_reopen, args=(paths,))
    if state.get("draft"):
        st.info("This question was imported with a drafted title: check the title, then tick “The title is right” "
                "to take it off the “Needs a title” list.")

    if editing:
        st.caption(f"Id: {escape_md(state['id'])} (editing keeps the id and the file, "
                   f"{escape_md(state['id'])}.md; the version it replaces is kept as a backup)")
    else:
        st.text_input("Id (the file name)", key=f"{token}-id", max_chars=80,
                      placeholder="lowercase words and hyphens; empty: made from the title")
        if not st.session_state.get(f"{token}-id") and (suggested := _form_id(state)):
            st.caption(f"Will be saved as content/{escape_md(suggested)}.md")
    _show(problems, "id")
    st.text_input("Title", key=f"{token}-title", placeholder="e.g. What is overfitting?")
    _show(problems, "title")
    if state.get("draft"):
        st.checkbox("The title is right (no longer a draft)", key=f"{token}-confirm")
        _show(problems, "draft")
    options = sorted({*idx.topics, *state.get("topics", []), *st.session_state.get(f"{token}-topics", [])})
    st.multiselect("Topics", options, key=f"{token}-topics", placeholder="Pick existing topics")
    st.text_input("New topics", key=f"{token}-new-topics", placeholder="comma-separated, e.g. nlp, transformers")
    _show(problems, "topics")
    st.text_input("Aliases (other names people search for)", key=f"{token}-aliases",
                  placeholder="comma-separated, e.g. data leakage, target leakage")
    _show(problems, "aliases")
    for key, heading in SECTIONS:
        st.text_area(heading, key=f"{token}-{key}", height=110 if key == "short" else 140)
        _show(problems, key)
    st.button("Save", key="editor-save", type="primary", on_click=_on_save, args=(paths, model),
              icon=":material/save:")
    if editing:
        _backups_view(state, paths, model)


def _backups_view(state: dict, paths: Paths, model: str | None) -> None:
    backups = list_backups(paths.content_dir, str(state["id"]))
    with st.expander(f"Earlier versions ({len(backups)})"):
        if not backups:
            st.caption("None yet: each save keeps the version it replaces here (content/.backups/).")
            return
        name_key = f"{state['token']}-backup"
        labels = {b.name: f"saved {b.saved_at} UTC" for b in backups}
        picked = st.selectbox("Version", list(labels), key=name_key, format_func=labels.get)
        backup = next((b for b in backups if b.name == picked), None)
        if backup is not None:
            st.code(backup.path.read_text(encoding="utf-8", errors="replace"), language=None, wrap_lines=True,
                    height=220)
        st.button("Restore this version", key="editor-restore", on_click=_on_restore, args=(paths, model, name_key),
                  help="Puts it back as the question; the current version becomes a backup in turn")


def _saved_view(state: dict, paths: Paths) -> None:
    note = f" The previous version is kept as a backup ({escape_md(state['backup'])})." if state.get("backup") else ""
    st.success(f"{state.get('what', 'Saved')} content/{escape_md(state['path'])}.{note}")
    ready = index_status(paths)
    cols = st.columns(3)
    cols[0].button("Open it", key="saved-open", on_click=_open_saved, args=(str(state["id"]),),
                   disabled=not ready, icon=":material/arrow_forward:")
    cols[1].button("Edit again", key="saved-edit", on_click=open_edit, args=(paths.content_dir, str(state["id"])),
                   icon=":material/edit:")
    cols[2].button("New question", key="saved-new", on_click=open_new, icon=":material/add:")


def _open_saved(qid: str) -> None:
    close_editor()
    open_question_page(qid)


# --------------------------------------------------------------------------- the sidebar's part
def editor_sidebar(paths: Paths) -> None:
    """"New question" and the "Needs a title" list (where this session may not edit, the list opens the questions
    instead); on a served instance with an editor key, the box that unlocks editing."""
    if error := st.session_state.pop("editor-error", None):
        st.error(escape_md(error))
    editable = editing_allowed()
    if editable:
        st.button("New question", key="new-question", on_click=open_new, icon=":material/add:", width="stretch")
    if served() and editor_key_set() and not read_only():
        _editor_lock(editable)
    state = st.session_state.get(EDITOR)
    if not (isinstance(state, dict) and state.get("mode") == "saved"):  # the saved view says it itself
        if index_status(paths):  # "ready" is said once; it stays on screen until the next whole-page run
            st.session_state.pop(PENDING, None)
    waiting = drafts(paths.content_dir) if editable or not served() else []  # a bank chore: not a student's
    if waiting:
        st.subheader("Needs a title")
        st.caption("Imported with a drafted title: " + ("open one to check its title." if editable
                                                        else "searchable, but not checked yet."))
        for qid, title in waiting:
            st.button(escape_md(title), key=f"draft-{qid}", type="tertiary",
                      on_click=open_edit if editable else open_question_page,
                      args=(paths.content_dir, qid) if editable else (qid,))


# --------------------------------------------------------------------------- unlocking the bank (served)
def _editor_lock(unlocked: bool) -> None:
    if unlocked:
        st.button("Lock editing", key="editor-lock", on_click=_lock, icon=":material/lock:", width="stretch")
        return
    with st.expander("Editors", key="editor-unlock-box"):
        if message := st.session_state.pop("editor-unlock-message", None):
            st.error(escape_md(message))
        st.text_input("Editor key", key="editor-key", type="password", max_chars=200)
        st.button("Unlock editing", key="editor-unlock", on_click=_unlock, icon=":material/lock_open:")


def _unlock() -> None:
    """Compare the typed key with MLPREP_EDITOR_KEY (constant time); wrong keys are slowed down per client."""
    from .sign_in import accounts  # the back-off lives in the progress database, beside the sign-in's

    typed = str(st.session_state.get("editor-key") or "")
    st.session_state["editor-key"] = ""  # not kept in the session
    store, client = accounts(), client_address()
    if store is None:
        st.session_state["editor-unlock-message"] = "Editing cannot be unlocked while the progress database is down."
        return
    try:
        wait = store.blocked_for("editor", client)
        if wait > 0:
            st.session_state["editor-unlock-message"] = f"Too many wrong keys: wait {wait:.0f} s before the next one."
        elif editor_key_matches(typed):
            st.session_state[EDITOR_UNLOCKED] = True
            store.clear_failures("editor", client)
            log.info("editing unlocked from %s", client)
        else:
            wait = store.record_failure("editor", client)
            log.warning("wrong editor key from %s; next try allowed in %.0f s", client, wait)
            st.session_state["editor-unlock-message"] = "That is not the editor key."
    except ProgressError:
        st.session_state["editor-unlock-message"] = "Editing cannot be unlocked while the progress database is down."


def _lock() -> None:
    st.session_state.pop(EDITOR_UNLOCKED, None)
    close_editor()
