"""Callbacks that move the user around the page (they run before the rerun they cause)."""

from __future__ import annotations

import streamlit as st


def open_question(question_id: str) -> None:
    st.query_params["open"] = question_id


def close_question() -> None:
    if "open" in st.query_params:  # touching the URL otherwise would write a stale one (the query being typed)
        del st.query_params["open"]


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
