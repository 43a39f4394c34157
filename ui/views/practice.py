"""The Practice view ("quiz me"): reveal the short answer, then the rest, then mark it known or shaky."""

from __future__ import annotations

import random

import streamlit as st

from index import QueryError

from .. import practice
from ..render import escape_md
from ..resources import Paths
from .search import MAX_GROUPS, run_search


def practice_pool(idx, query: str, sections, topics) -> tuple[list[str], str]:
    source = st.radio("Questions from", ["All questions", "One topic", "The current search results"],
                      key="practice_source", horizontal=True)
    if source == "One topic":
        topic = st.selectbox("Topic", idx.topics, key="practice_topic")
        return [q.id for q in idx.questions if topic in q.topics], f"topic {topic}"
    if source == "The current search results":
        if not query.strip():
            st.info("Search for something first; until then questions come from the whole bank.")
            return [q.id for q in idx.questions], "the whole bank"
        try:
            result, _ = run_search(idx, query, sections, topics)
        except QueryError as exc:
            st.info(escape_md(str(exc)))
            return [q.id for q in idx.questions], "the whole bank"
        return [g.question_id for g in result.groups[:MAX_GROUPS]], "the current results"
    return [q.id for q in idx.questions], "the whole bank"


def practice_view(idx, paths: Paths, query: str, sections, topics) -> None:
    tally_store = practice.TallyStore(paths.practice_file)
    pool, label = practice_pool(idx, query, sections, topics)
    tally = tally_store.load()
    counts = practice.summary(pool, tally)
    st.caption(f"From {escape_md(label)}: {counts['shaky']} shaky, {counts['unseen']} not yet practised, "
               f"{counts['knew']} known. Shaky ones come back first.")
    current = st.session_state.get("practice_q")
    if current not in pool:  # the pool holds only this index's ids
        current = practice.next_question(pool, tally)
        st.session_state["practice_q"], st.session_state["practice_stage"] = current, 0
    if current is None:
        st.info("No questions to practise here.")
        return
    stage = st.session_state.get("practice_stage", 0)
    question = idx.question(current)
    with st.container(border=True):
        st.markdown(f"### {escape_md(question.title)}")
        if stage == 0:
            st.caption("Think of your answer, then reveal the short answer.")
            st.button("Reveal the short answer", key="reveal", on_click=set_stage, args=(1,), type="primary")
        if stage >= 1:
            short = question.section("short")
            st.markdown("**Short answer**")
            st.markdown(escape_md(short.text if short else ""))
        if stage == 1:
            st.button("Show the rest", key="reveal-rest", on_click=set_stage, args=(2,))
        if stage >= 2:
            for section in question.sections:
                if section.key != "short":
                    st.markdown(f"**{escape_md(section.heading)}**")
                    st.markdown(escape_md(section.text))
        if stage >= 1:
            cols = st.columns(3)
            cols[0].button("Knew it", key="mark-knew", on_click=mark, args=(paths, current, "knew", pool),
                           icon=":material/check:", width="stretch")
            cols[1].button("Shaky", key="mark-shaky", on_click=mark, args=(paths, current, "shaky", pool),
                           icon=":material/replay:", width="stretch")
    st.button("Skip to another question", key="skip", on_click=skip, args=(paths, current, pool))
    shaky = [q for q in idx.questions if tally.get(q.id, {}).get("last") == "shaky"]
    if shaky:
        st.markdown("**Shaky so far:** " + "; ".join(escape_md(q.title) for q in shaky))


def set_stage(stage: int) -> None:
    st.session_state["practice_stage"] = stage


def mark(paths: Paths, question_id: str, how: str, pool: list[str]) -> None:
    tally = practice.TallyStore(paths.practice_file).mark(question_id, how)
    st.session_state["practice_q"] = practice.next_question(pool, tally, random.Random(), exclude=question_id)
    st.session_state["practice_stage"] = 0


def skip(paths: Paths, question_id: str, pool: list[str]) -> None:
    tally = practice.TallyStore(paths.practice_file).load()
    st.session_state["practice_q"] = practice.next_question(pool, tally, random.Random(), exclude=question_id)
    st.session_state["practice_stage"] = 0
