"""One question on its own page (`?open=<id>`): every section, then the related questions."""

from __future__ import annotations

import difflib

import streamlit as st

from index import SearchToolError, UnknownQuestion

from ..navigation import back_target, close_question, go_back, open_question, open_related
from ..render import escape_md
from .answer_check import answer_box
from .editor import edit_button


def question_page(idx, question_id: str) -> None:
    try:
        question = idx.question(question_id)
    except UnknownQuestion:
        # The error's own text is for the command line (it names a command); a web user gets the web's way out.
        st.warning(f"This bank has no question “{escape_md(question_id[:80])}”: the link may be from an older "
                   "version of the bank or mistyped. Search for it above, or browse the topics.")
        ids = {q.id: q for q in idx.questions}
        for near in difflib.get_close_matches(question_id, list(ids), n=3, cutoff=0.6):
            st.button(f"Did you mean: {escape_md(ids[near].title)}", key=f"near-id-{near}", on_click=open_question,
                      args=(near,), type="tertiary")
        st.button("Back to the search", on_click=close_question, icon=":material/arrow_back:")
        return
    except SearchToolError as exc:
        st.warning(escape_md(str(exc)))
        st.button("Back", on_click=close_question, icon=":material/arrow_back:")
        return
    back = "Back"
    if (came_from := back_target()) is not None:
        try:
            back = f"Back to {escape_md(idx.question(came_from).title)}"
        except UnknownQuestion:  # gone from the bank since: Back still goes to the search
            pass
    st.button(back, on_click=go_back, icon=":material/arrow_back:", key="back")
    edit_button(question.id)
    st.markdown(f"### {escape_md(question.title)}")
    if question.topics:
        st.caption("Topics: " + escape_md(", ".join(question.topics)))
    for section in question.sections:
        st.markdown(f"**{escape_md(section.heading)}**")
        st.markdown(escape_md(section.text))
    st.divider()
    st.markdown("**Check my answer**: type or paste what you would say, and see which key points it covers.")
    answer_box(idx, question.id, key=f"page-{question.id}")
    st.divider()
    st.markdown("**Related questions**")
    for rel in idx.related(question.id, k=3):
        st.button(escape_md(rel.question), key=f"related-{rel.question_id}", on_click=open_related,
                  args=(rel.question_id,), icon=":material/arrow_forward:")
