"""What the editor's saves change outside the form: the index update after a save (one worker thread per index
folder), what a session is told about it, and the drafted questions that still wait for a checked title.

After a save, the worker brings the index up to date (only the changed question is embedded). It holds the app's
build lock, so a session that notices the stale index meanwhile keeps serving the live version instead of building
too; every search answers from the last good index until the new one is published.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from index import store
from index.errors import ContentErrors
from ingest.content import parse_file
from ingest.edit import reindex

from .lifecycle import show_content_errors
from .render import escape_md
from .resources import Paths, build_lock

PENDING = "editor-pending"  # session key: {"id", "ticket"} of this session's last save until its index is live


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


# --------------------------------------------------------------------------- what this session is told about it
def request_update(paths: Paths, model: str | None, question_id: str) -> int:
    """Ask for the index update after `question_id` was saved; this session waits on the returned ticket."""
    ticket = reindexer(str(paths.content_dir), str(paths.index_dir)).request(model)
    st.session_state[PENDING] = {"id": question_id, "ticket": ticket}
    return ticket


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


# --------------------------------------------------------------------------- the drafts waiting for a title
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
