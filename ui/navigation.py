"""Callbacks that move the user around the page (they run before the rerun they cause)."""

from __future__ import annotations

import streamlit as st


def open_question(question_id: str) -> None:
    st.query_params["open"] = question_id


def close_question() -> None:
    st.query_params.pop("open", None)


def set_query(text: str) -> None:
    st.session_state["q"] = text
    on_query_change()


def on_query_change() -> None:
    """Typing a query goes back to the results, wherever the user was."""
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
