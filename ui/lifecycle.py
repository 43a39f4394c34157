"""The index's lifecycle as the app sees it: missing, stale, fresh or damaged, whether the content is valid, and the
build (with a progress bar) that makes it fresh again."""

from __future__ import annotations

import concurrent.futures
import importlib
import time
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from index import store
from index.errors import ContentError, ContentErrors, IndexDamaged, IndexStale, SearchToolError
from ingest.edit import READONLY_ENV, read_only

from .mode import editing_allowed, error_detail, log, served
from .render import escape_md
from .resources import Paths, build_lock, load_index


@dataclass(frozen=True)
class IndexState:
    exists: bool  # a readable live version is there (it can serve, fresh or not)
    fresh: bool  # it matches the content folder
    errors: tuple[ContentError, ...]  # problems in the content folder (nothing can be built while there are any)
    model: str | None  # the model the live version was built with (a rebuild keeps it)


def index_state(index_dir: Path, content_dir: Path) -> IndexState:
    """Look at the index folder and the content folder without loading vectors or the model."""
    try:
        manifest = store.read_manifest(store.current_version(index_dir), index_dir)
    except SearchToolError:
        manifest = None
    exists, fresh = manifest is not None, False
    if exists:
        try:  # against the manifest just read (store.is_fresh would read it again; this runs on every rerun)
            store.check_fresh(index_dir, manifest, content_dir)
            fresh = True
        except IndexStale:
            pass
    errors: tuple[ContentError, ...] = ()
    if not fresh:
        from ingest.content import load_bank

        try:
            load_bank(content_dir)
        except ContentErrors as exc:
            errors = tuple(exc.errors)
    return IndexState(exists, fresh, errors, manifest.get("model", {}).get("source") if exists else None)


def built_at(raw: str) -> str:
    """The manifest's build time (`Index.built_at`) as 'YYYY-MM-DD HH:MM UTC', or as it is if in another form."""
    raw = str(raw)
    if len(raw) >= 16 and raw[10] == "T":
        return f"{raw[:10]} {raw[11:16]} UTC"
    return raw or "unknown"


def build_index(paths: Paths, model: str | None, why: str) -> bool:
    """Build (or update) the index with a visible progress bar. True when a usable index was published."""
    bar = st.progress(0.0, text=f"{why}: checking the question bank…")
    lock = build_lock()
    if not lock.acquire(blocking=False):
        bar.empty()
        st.info("The index is being updated (after a save, or by another session); showing the current one "
                "meanwhile.")
        return False
    # Looked up at call time (`ingest.build` the package attribute is the function, so go by the module name).
    build_folder = importlib.import_module("ingest.build").build
    try:
        # The build runs in a worker thread and reports through `step`; this thread redraws the bar from it (Streamlit
        # elements are drawn from the page's own thread), and shows the elapsed seconds meanwhile.
        started = time.perf_counter()
        latest = ["checking the question bank", 0, 0]

        def step(what: str, done: int, total: int) -> None:
            latest[:] = [what, done, total]

        with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="build") as pool:
            job = pool.submit(build_folder, paths.content_dir, paths.index_dir, model=model, progress=step)
            while not job.done():
                what, done, total = latest
                elapsed = time.perf_counter() - started
                if total:
                    bar.progress(0.05 + 0.9 * done / total,
                                 text=f"{why}: {what} the question bank with {model or 'the default model'}, "
                                      f"{done} of {total} texts, {elapsed:.0f} s…")
                else:
                    bar.progress(0.05, text=f"{why}: {what}, {elapsed:.0f} s…")
                concurrent.futures.wait([job], timeout=0.25)
            report = job.result()
        bar.progress(1.0, text=f"Index ready: {report.summary()}")
        st.session_state["last_build"] = f"Index ready: {report.summary()}"
        return True
    except ContentErrors as exc:
        bar.empty()
        show_content_errors(exc.errors, serving=index_state(paths.index_dir, paths.content_dir).exists)
        return False
    except SearchToolError as exc:
        bar.empty()
        index_error(exc)
        return False
    finally:
        lock.release()


def index_error(exc: SearchToolError) -> None:
    """An index that cannot be built or loaded: its message locally, plain words on a served instance."""
    st.error(escape_md(str(exc)) if not served() else
             f"The question bank is unavailable right now: {error_detail(exc, 'Loading the index')}.")


def show_content_errors(errors, serving: bool) -> None:
    n = len(errors)
    if served() and not editing_allowed():  # a visitor cannot fix them: the server's log lists them
        log.error("the question bank has %d problem(s):\n%s", n, "\n".join(str(e) for e in errors))
        if not serving:
            st.error("The question bank is unavailable on this server right now (its log says why).")
        return
    tail = ("The last good index keeps serving until they are fixed." if serving
            else "There is no index to serve until they are fixed.")
    st.error(f"The question bank has {n} problem{'s' if n != 1 else ''}, so the index was not rebuilt. {tail}")
    st.code("\n".join(str(e) for e in errors), language=None, wrap_lines=True)


def stale_index_kept(index_dir: str) -> None:
    """Say (on a local page) or log (on a served one, once per process) that a read-only server keeps serving an
    index older than its content."""
    text = (f"The question bank changed since the index was built, and this server does not write its index "
            f"({READONLY_ENV} is set): it serves the last build until `python -m ingest --index {index_dir}` runs.")
    if not served():
        st.info(escape_md(text))
    elif index_dir not in _STALE_LOGGED:
        _STALE_LOGGED.add(index_dir)
        log.warning(text)


_STALE_LOGGED: set[str] = set()


def ensure_index(paths: Paths):
    """Build a missing or stale index, report broken content, and return the loaded index (or stop the page)."""
    state = index_state(paths.index_dir, paths.content_dir)
    if state.errors:
        show_content_errors(state.errors, serving=state.exists)
    elif not state.fresh and read_only():
        # MLPREP_READONLY: this process never writes the index folder (a class's processes share one, built before
        # they start); the last built index keeps serving, and a missing one fails below with how to build it.
        if state.exists:
            stale_index_kept(str(paths.index_dir))
    elif not state.fresh:
        build_index(paths, state.model, "No index yet" if not state.exists else "The question bank changed")
    try:
        try:
            return load_index(str(paths.index_dir), store.current_version(paths.index_dir).name)
        except IndexDamaged:
            # Damaged or written by an older format: rebuild once from valid content, then load the new version.
            if state.errors or read_only() or not build_index(paths, state.model,
                                                                "The index cannot be read, rebuilding it"):
                raise
        return load_index(str(paths.index_dir), store.current_version(paths.index_dir).name)
    except SearchToolError as exc:
        index_error(exc)
        st.stop()


def serving_index(paths: Paths):
    """The live version, loaded once per process, without the freshness check that `ensure_index` does: what a
    rerun of part of the page uses (the whole page's run checked freshness already)."""
    try:
        return load_index(str(paths.index_dir), store.current_version(paths.index_dir).name)
    except SearchToolError as exc:
        index_error(exc)
        st.stop()
