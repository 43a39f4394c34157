"""New question and Edit: a form over `ingest.edit`, its inline validation, backups, and the background index update.

The form's checks are ingest's own (`ingest.content.check_fields` through `ingest.edit.save_question`), so a form
problem reads exactly as the same problem in a file. Nothing here writes a file itself: `save_question` and
`restore_backup` check the id, the collision, the file's hash and `MLPREP_READONLY` on every call, so a manipulated
session or a forged widget message is refused as firmly as a wrong form.

After a save, one worker thread per index folder brings the index up to date (only the changed question is
embedded). It holds the app's build lock, so a session that notices the stale index meanwhile keeps serving the
live version instead of building too; every search answers from the last good index until the new one is published.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from index import store
from index.errors import ContentErrors, SearchToolError, UnknownQuestion
from ingest.content import FORM, SECTIONS, QuestionFields, check_fields, parse_file, suggest_id
from ingest.edit import (EditRefused, list_backups, open_question, read_only, reindex, restore_backup,
                         save_question)

from ..lifecycle import show_content_errors
from ..navigation import open_question as open_question_page
from ..render import escape_md
from ..resources import Paths, build_lock

EDITOR = "editor"  # session key: the open form (a dict, see _open); absent when no form is open
PENDING = "editor-pending"  # session key: {"id", "ticket"} of this session's last save until its index is live
_FORMS = "editor-forms"  # session key: a counter, so each opened form gets fresh widget keys
_READ_ONLY_NOTE = "Editing is switched off on this server (MLPREP_READONLY is set): nothing can be written here."


# --------------------------------------------------------------------------- the index update after a save
@dataclass(frozen=True)
class ReindexStatus:
    state: str  # "building", "ready" or "failed"
    message: str  # the build's summary when ready, why it failed otherwise
    errors: tuple = ()  # the content folder's problems when that is why it failed
    seconds: float = 0.0  # since the request, while building


class Reindexer:
    """The background builder of one index folder. Each save asks for a build and gets a ticket; a build covers
    every ticket asked before it started, so saves from several sessions are built one after another."""

    def __init__(self, content_dir: Path, index_dir: Path, lock: threading.Lock):
        self.content_dir, self.index_dir, self._build_lock = content_dir, index_dir, lock
        self._lock = threading.Lock()
        self._asked = self._built = self._failed = 0
        self._asked_at: dict[int, float] = {}
        self._model: str | None = None
        self._summary, self._error, self._errors = "", "", ()
        self._thread: threading.Thread | None = None

    def request(self, model: str | None) -> int:
        """Ask for a build with `model` (the live index's); returns the ticket to pass to `status`."""
        with self._lock:
            self._asked += 1
            self._asked_at[self._asked] = time.monotonic()
            self._model = model
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="reindex", daemon=True)
                self._thread.start()
            return self._asked

    def status(self, ticket: int) -> ReindexStatus:
        with self._lock:
            if self._built >= ticket:
                return ReindexStatus("ready", self._summary)
            if self._failed >= ticket:
                return ReindexStatus("failed", self._error, self._errors)
            return ReindexStatus("building", "", (), time.monotonic() - self._asked_at.get(ticket, time.monotonic()))

    def _run(self) -> None:
        while True:
            with self._lock:
                if max(self._built, self._failed) >= self._asked:
                    self._thread = None
                    return
                target, model = self._asked, self._model
            try:
                with self._build_lock:  # the app's: a stale-index check elsewhere serves the live version meanwhile
                    report = reindex(self.content_dir, self.index_dir, model=model)
                with self._lock:
                    self._built, self._summary = target, report.summary()
            except ContentErrors as exc:
                with self._lock:
                    self._failed, self._error, self._errors = target, "the question bank has problems", tuple(exc.errors)
            except Exception as exc:  # the thread's edge: anything else is reported to the sessions waiting on it
                with self._lock:
                    self._failed, self._error, self._errors = target, str(exc) or type(exc).__name__, ()


@st.cache_resource
def reindexer(content_dir: str, index_dir: str) -> Reindexer:
    return Reindexer(Path(content_dir), Path(index_dir), build_lock())


def _import_embedding_code() -> None:
    try:
        import sentence_transformers  # noqa: F401
    except ImportError:
        pass  # the build reports a missing package itself, with its fix


@st.cache_resource
def warm_builder() -> threading.Thread:
    """Import the embedding code (torch) once per process, in the background, when a form opens: the app's queries
    do not need it, and importing it is most of a first save's wait (docs/editing.md, "Save → searchable")."""
    thread = threading.Thread(target=_import_embedding_code, name="warm-builder", daemon=True)
    thread.start()
    return thread


# --------------------------------------------------------------------------- opening and closing a form
def _open(mode: str, qid: str | None, fields: QuestionFields | None, sha: str | None) -> None:
    warm_builder()  # while the user types, so that the save's build need not import torch first
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
    if not read_only():
        _open("new", None, None, None)


def open_edit(content_dir: Path, qid: str) -> None:
    """Open the edit form of `qid` on the file as it is now (its hash is what the save is checked against)."""
    if read_only():
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
    ticket = reindexer(str(paths.content_dir), str(paths.index_dir)).request(model)
    state.update(mode="saved", id=result.question_id, what=what, backup=result.backup.name if result.backup else None,
                 path=result.path.relative_to(paths.content_dir).as_posix() if result.path else f"{result.question_id}.md",
                 ticket=ticket)
    st.session_state[PENDING] = {"id": result.question_id, "ticket": ticket}


def _on_save(paths: Paths, model: str | None) -> None:
    state = st.session_state.get(EDITOR)
    if not isinstance(state, dict) or state.get("mode") not in ("new", "edit"):
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
    if not isinstance(state, dict) or state.get("mode") != "edit":
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
    """The "Edit" button of a question's page (none on a read-only server)."""
    if not read_only():
        st.button("Edit", key="edit-question", icon=":material/edit:", on_click=open_edit,
                  args=(Paths.from_env().content_dir, question_id))


def editor_view(idx, paths: Paths) -> None:
    """The open form (New question or Edit), or what a save did and whether the index has caught up."""
    state = st.session_state.get(EDITOR)
    if read_only():  # a form must not appear, whatever the session state says
        close_editor()
        st.warning(_READ_ONLY_NOTE)
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


def index_status(paths: Paths) -> bool:
    """Say where this session's last save is: being indexed, searchable, or saved but not indexed. True when it
    is searchable (or there is nothing pending)."""
    pending = st.session_state.get(PENDING)
    if not isinstance(pending, dict):
        return True
    status = reindexer(str(paths.content_dir), str(paths.index_dir)).status(int(pending.get("ticket", 0)))
    if status.state == "building":
        _index_progress(paths, int(pending.get("ticket", 0)))
        return False
    if status.state == "ready":
        if not pending.get("reloaded"):
            pending["reloaded"] = True
            st.rerun(scope="app")  # the whole page, so the sidebar and the search load the version just published
        st.success(f"Ready: “{escape_md(pending['id'])}” is in the index and searchable now.",
                   icon=":material/check_circle:")
        st.caption(f"Index update: {escape_md(status.message)}")
        return True
    st.error(f"“{escape_md(pending['id'])}” is saved, but the index was not updated: {escape_md(status.message)}. "
             "Search keeps answering from the last good index; the next save or “Rebuild index” tries again.")
    if status.errors:
        show_content_errors(status.errors, serving=True)
    return False


@st.fragment(run_every=1.0)
def _index_progress(paths: Paths, ticket: int) -> None:
    status = reindexer(str(paths.content_dir), str(paths.index_dir)).status(ticket)
    if status.state != "building":
        st.rerun(scope="app")
    st.info(f"Updating the index (only the changed question is embedded), {status.seconds:.0f} s… Search keeps "
            "answering from the current index meanwhile.", icon=":material/hourglass_top:")


# --------------------------------------------------------------------------- the sidebar's part
@st.cache_data(show_spinner=False, max_entries=8)
def _drafts(content_dir: str, files: tuple) -> list[tuple[str, str]]:
    """(id, title) of the questions marked `draft: true`; `files` (name, mtime, size) keys the cache."""
    out = []
    for name, _, _ in files:
        question, _errors = parse_file(Path(name), Path(content_dir))
        if question is not None and question.draft:
            out.append((question.id, question.title))
    return out


def drafts(content_dir: Path) -> list[tuple[str, str]]:
    """The imported questions whose drafted title is not confirmed yet, read from the content folder."""
    try:
        files = tuple((str(p), (s := p.stat()).st_mtime_ns, s.st_size) for p in store.content_files(content_dir))
    except OSError:
        return []
    return _drafts(str(content_dir), files)


def editor_sidebar(paths: Paths) -> None:
    """"New question" and the "Needs a title" list (on a read-only server the list opens the questions instead)."""
    if error := st.session_state.pop("editor-error", None):
        st.error(escape_md(error))
    editable = not read_only()
    if editable:
        st.button("New question", key="new-question", on_click=open_new, icon=":material/add:", width="stretch")
    state = st.session_state.get(EDITOR)
    if not (isinstance(state, dict) and state.get("mode") == "saved"):  # the saved view says it itself
        if index_status(paths):  # "ready" is said once; it stays on screen until the next whole-page run
            st.session_state.pop(PENDING, None)
    waiting = drafts(paths.content_dir)
    if waiting:
        st.subheader("Needs a title")
        st.caption("Imported with a drafted title: " + ("open one to check its title." if editable
                                                        else "searchable, but not checked yet."))
        for qid, title in waiting:
            st.button(escape_md(title), key=f"draft-{qid}", type="tertiary",
                      on_click=open_edit if editable else open_question_page,
                      args=(paths.content_dir, qid) if editable else (qid,))
