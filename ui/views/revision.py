"""The Revision sheet view: every short answer on one page (or only the learner's weak questions), with printable
HTML and Markdown downloads."""

from __future__ import annotations

import streamlit as st

from progress import ProgressError

from .. import practice, revision
from ..mode import error_detail
from ..render import escape_md
from ..resources import Paths
from .progress import learner_store


def revision_view(idx) -> None:
    st.caption("Every short answer on one page. Download the HTML and print it (it is laid out for paper), "
               "or keep the Markdown.")
    questions = list(idx.questions)
    if st.toggle("Only my weak questions", key="revision_weak"):
        weak = weak_ids()
        if weak is None:
            return
        by_id = {q.id: q for q in questions}
        questions = [by_id[q] for q in weak if q in by_id]
        if not questions:
            st.info(f"No weak questions: {practice.WEAK_RULE}")
            return
        st.caption(f"{len(questions)} weak question{'s' if len(questions) != 1 else ''}: {practice.WEAK_RULE}")
    cols = st.columns(2)
    cols[0].download_button("Download HTML (printable)", revision.revision_html(questions),
                            file_name="revision-sheet.html", mime="text/html", icon=":material/print:",
                            width="stretch", on_click="ignore")
    cols[1].download_button("Download Markdown", revision.revision_markdown(questions),
                            file_name="revision-sheet.md", mime="text/markdown", icon=":material/download:",
                            width="stretch", on_click="ignore")
    with st.container(border=True):
        st.markdown(revision.revision_markdown(questions, for_screen=True))


def weak_ids() -> list[str] | None:
    """The current learner's weak question ids, or None after saying why they cannot be read."""
    found = learner_store(Paths.from_env())
    if found is None:
        return None
    learner, store = found
    try:
        return store.weak_questions(learner, now=practice.now())
    except ProgressError as exc:
        st.error(f"Practice progress is unavailable: {escape_md(error_detail(exc, 'Reading weak questions'))}")
        return None
