"""Callbacks that move the user around the page (they run before the rerun they cause)."""

from __future__ import annotations

import streamlit as st


TRAIL = "question-trail"  # session key: the questions opened before this one through their related links
TYPED = "search-as-typed"  # session key: the query the user asked to search without typo repairs


def open_question(question_id: str) -> None:
    """Open a question from a search, Browse or the map: "Back" on its page returns there."""
    st.session_state[TRAIL] = []
    st.query_params["open"] = question_id


def open_related(question_id: str) -> None:
    """Open a question from another question's page: "Back" on its page returns to that question."""
    current = st.query_params.get("open")
    trail = list(st.session_state.get(TRAIL, ()))
    if current and current != question_id:
        trail.append(current)
    st.session_state[TRAIL] = trail
    st.query_params["open"] = question_id


def back_target() -> str | None:
    """The question "Back" returns to from the open one (None: back to the search). The browser's own Back may
    have moved the page since the trail was written, so the open question itself is never a target."""
    current = st.query_params.get("open")
    return next((q for q in reversed(st.session_state.get(TRAIL, ())) if q != current), None)


def go_back() -> None:
    """The question page's Back: to the question this one was opened from, else to the search."""
    target = back_target()
    if target is None:
        close_question()
        return
    trail = list(st.session_state.get(TRAIL, ()))
    st.session_state[TRAIL] = trail[:len(trail) - 1 - trail[::-1].index(target)]
    st.query_params["open"] = target


def close_question() -> None:
    if "open" in st.query_params:  # touching the URL otherwise would write a stale one (the query being typed)
        del st.query_params["open"]
    st.session_state[TRAIL] = []


def search_as_typed(query: str) -> None:
    """Search `query` without repairing its typos (the "search instead for …" link); typing anything else repairs
    again."""
    st.session_state[TYPED] = query


def repair_typos(query: str) -> bool:
    """Whether the search of `query` repairs typos (it does unless the user asked for this query as typed)."""
    return st.session_state.get(TYPED) != query


def set_query(text: str) -> None:
    st.session_state["q"] = text
    on_query_change()


def on_query_change() -> None:
    """Typing a query goes back to the results, wherever the user was (changing only what differs, so that typing
    on the results page leaves the URL to the box)."""
    if st.session_state.get("view") != "Search":
        st.session_state["view"] = "Search"
    close_question()


def browse_topic(topic: str) -> None:
    """Browse one topic: the Topics filter is set to it (Browse lists what that filter holds)."""
    st.session_state["view"] = "Browse"
    st.session_state["topic"] = [topic]
    close_question()


def clear_filters() -> None:
    st.session_state["section"] = []
    st.session_state["topic"] = []


def on_map_select() -> None:
    picked = st.session_state.get("map", {}).get("selection", {}).get("pick", [])
    if picked and picked[0].get("id"):
        open_question(str(picked[0]["id"]))
