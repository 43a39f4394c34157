"""The Search view: the empty state, one card per matching question, and the no-close-match page.

Typing reruns this view, so what it sends on every query is kept small: the caption and every card in ONE Markdown
block, with no widget of its own (plus, when they apply, a "Showing results for …" line above and the loosely
related questions in a second, quieter block under a rule: `index.results`). A card's "Open this question" and "The
other sections", "search instead for …" and the topics are links, turned into actions without a page load by
`ui.card_links` (mounted once per whole-page run, outside the fragment).
"""

from __future__ import annotations

import time

import streamlit as st

from index import QueryError
from index.results import matching_passage, split_loose

from ..card_links import expanded_cards, topic_links
from ..navigation import clear_filters, open_question, repair_typos, set_query
from ..render import (Card, cards_markdown, corrected_markdown, escape_md, example_queries, loose_markdown,
                      nearest_topics, why_matched)
from ..resources import search_timings

MAX_GROUPS = 5  # questions shown per search
SEARCH_K = 20  # section hits asked for, grouped into questions


def run_search(idx, query: str, sections, topics, repair: bool = True):
    """The search result and its server-side seconds (also kept for the sidebar's figures)."""
    started = time.perf_counter()
    result = idx.search(query, k=SEARCH_K, sections=sections or None, topics=topics or None, repair=repair)
    took = time.perf_counter() - started
    search_timings().append(took)
    return result, took


def answer_outside_filters(idx, result, sections, topics):
    """With filters on: the question that best answers the query when unfiltered, if the filters leave it out
    (then the filtered results are only weak matches); None otherwise."""
    if not (sections or topics) or result.no_close_match:
        return None
    unfiltered = idx.search(result.query, k=SEARCH_K)
    if unfiltered.no_close_match or not unfiltered.groups:
        return None
    best = unfiltered.groups[0]
    return None if any(g.question_id == best.question_id for g in result.groups) else best


def empty_state(idx) -> None:
    n_sections = len(idx.chunk_ids)
    st.markdown(f"**{len(idx.questions)} questions** ({n_sections} answer sections) in "
                f"**{len(idx.topics)} topics**. Type a question or a few words; results appear as you type.")
    st.caption("Try one of these:")
    cols = st.columns(2)
    for i, example in enumerate(example_queries(idx.questions)):
        cols[i % 2].button(escape_md(example), key=f"example-{i}", on_click=set_query, args=(example,),
                           icon=":material/search:", width="stretch")
    st.markdown("Browse a topic: " + topic_links(idx.topics))


def search_view(idx, query: str, sections, topics) -> None:
    if not query.strip():
        empty_state(idx)
        return
    try:
        result, took = run_search(idx, query, sections, topics, repair_typos(query))
    except QueryError as exc:
        st.info(escape_md(str(exc)))
        return
    if result.no_close_match or not result.hits:
        no_close_match(idx, result, filtered=bool(sections or topics))
        return
    outside = answer_outside_filters(idx, result, sections, topics)
    if outside is not None:
        no_close_match(idx, result, filtered=True, outside=outside)
        return
    if result.corrected_query:
        st.markdown(corrected_markdown(result.corrected_query, result.query))
    groups, loose = split_loose(result.groups[:MAX_GROUPS])
    note = f"; showing {escape_md(idx.sections[result.section_intent].lower())} first" if result.section_intent else ""
    also = f" and {len(loose)} loosely related" if loose else ""
    st.caption(f"{len(groups)} question{'s' if len(groups) != 1 else ''}{also}, answered in {took * 1000:.0f} ms"
               + note)
    st.markdown(cards_markdown([result_card(idx, result, group) for group in groups], expanded_cards()))
    if loose:
        st.markdown(loose_markdown([result_card(idx, result, group, passage=False) for group in loose]))


def result_card(idx, result, group, passage: bool = True) -> Card:
    """A question's card: its best section, the query's words, why it matched, its other sections and, with
    `passage`, the sentence elsewhere that holds the query's distinctive words (index.results.matching_passage)."""
    best = group.hits[0]
    question = idx.question(group.question_id)
    found = matching_passage(idx, result, group) if passage else None
    return Card(question_id=group.question_id, title=group.question, heading=best.heading, text=best.text,
                terms=frozenset(t for hit in group.hits for t in hit.matched_terms), why=why_matched(best),
                others=tuple((s.heading, s.text) for s in question.sections if s.key != best.section),
                passage=None if found is None else (found.heading, found.text, frozenset(found.terms)))


def no_close_match(idx, result, filtered: bool, outside=None) -> None:
    where = "with these filters" if filtered else "in the bank"
    st.warning(f"Nothing {where} answers “{escape_md(result.query)}” closely. The bank has "
               f"{len(idx.questions)} questions; try other words, or browse the nearest topics below.")
    if outside is not None:
        st.markdown(f"The closest answer is outside the filters: **{escape_md(outside.question)}**")
        cols = st.columns(2)
        cols[0].button("Open it", key=f"outside-{outside.question_id}", on_click=open_question,
                       args=(outside.question_id,), icon=":material/open_in_full:")
        cols[1].button("Search without the filters", key="clear-filters", on_click=clear_filters,
                       icon=":material/filter_alt_off:")
    st.markdown("Browse the nearest topics: " + topic_links(nearest_topics(result) or idx.topics[:4]))
    if result.groups:
        with st.expander("Closest questions anyway (weak matches)"):
            for group in result.groups[:MAX_GROUPS]:
                st.button(escape_md(group.question), key=f"weak-{group.question_id}", on_click=open_question,
                          args=(group.question_id,), type="tertiary")
