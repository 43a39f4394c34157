"""The Streamlit page: search the question bank, read answers, browse and map topics, practise, revise.

Routing and layout only. The views live in `ui/views/`, the index lifecycle (build, freshness) in `ui/lifecycle.py`,
the process-wide resources (loaded index, folders) in `ui/resources.py` and the navigation callbacks in
`ui/navigation.py`. The box, filters, view and content are one `st.fragment` (`page_body`), so typing, filtering
and clicking rerun only that part; whole-page runs (a load, the sidebar) also check the index's freshness and send
`ui/page.py`'s constant script (focus, browser history, scroll, highlight style). The results are one Markdown
block whose card links act through `ui/card_links.py`. Nothing from content or a query is rendered as HTML: it
goes through `ui.render` (escaped Markdown) or plain-text elements.

Folders come from environment variables (MLPREP_INDEX, MLPREP_CONTENT, MLPREP_PRACTICE; see `ui.resources.Paths`);
URL parameters never name files. Local or served (MLPREP_SERVED: sign-in, a locked bank, no internals) is
`ui/mode.py`'s to say. URL parameters: q (query), section and topic (filters), view, open (a question id).
"""

from __future__ import annotations

import streamlit as st

from ui.card_links import card_links
from ui.heap import freeze_heap
from ui.lifecycle import ensure_index, serving_index
from ui.render import escape_md
from ui.navigation import close_question, on_query_change
from ui.page import PAGE_ICON, PAGE_SCRIPT, PAGE_STYLE_HTML, SEARCH_LABEL
from ui.mode import served
from ui.resources import Paths
from ui.views.browse import browse_view, map_view
from ui.views.editor import editor_open, editor_view
from ui.views.practice import practice_view
from ui.views.question import question_page
from ui.views.revision import revision_view
from ui.views.search import search_view
from ui.views.sidebar import sidebar

VIEWS = ("Search", "Browse", "Topic map", "Practice", "Revision sheet")
FULL_RUN = "_full_run"  # session key: set by a whole-page run, taken by the page body


def main() -> None:
    st.set_page_config(page_title="ML interview prep", page_icon=PAGE_ICON, layout="centered")
    if served():  # `make serve` says so on its command line too; this covers a server started another way
        st.set_option("client.showErrorDetails", "none")
    paths = Paths.from_env()
    st.markdown("## ML interview prep")
    # our constant style, as the first element of the page: drawn before any result (a style-only st.html goes to
    # Streamlit's event container, which can be drawn after the results or dropped)
    st.markdown(PAGE_STYLE_HTML, unsafe_allow_html=True)
    st.html(PAGE_SCRIPT, unsafe_allow_javascript=True)
    st.session_state[FULL_RUN] = True  # read once by the page body: this run checks the index's freshness
    page_body(paths)
    idx = serving_index(paths)
    freeze_heap(str(idx.path), str(idx.version))  # once the index and its model are loaded
    sidebar(idx, paths)


def filters_label(headings, topics) -> str:
    on = [*(headings or []), *(topics or [])]
    return "Filters: " + (escape_md(", ".join(on)) if on else "all sections, all topics")


@st.fragment
def page_body(paths: Paths) -> None:
    """Everything that follows the query: typing, filtering or clicking in here reruns only this part."""
    card_links()  # before the results, so that it listens once they are drawn; its clicks rerun only this part
    # The box comes before the index is loaded, so that on a cold start the user can already type.
    query = st.text_input(SEARCH_LABEL, key="q", live=True, bind="query-params", on_change=on_query_change,
                          placeholder="e.g. how do I detect leakage", label_visibility="collapsed",
                          icon=":material/search:")
    idx = ensure_index(paths) if st.session_state.pop(FULL_RUN, False) else serving_index(paths)
    # Options are the headings (the URL reads ?section=Common+mistakes); the search takes the section keys.
    key_of = {heading: key for key, heading in idx.sections.items()}
    # Folded away so that on a phone the first result is on the first screen; what is on shows in the label.
    with st.expander(filters_label(st.session_state.get("section"), st.session_state.get("topic")), key="filters"):
        headings = st.multiselect("Section kinds", list(key_of), key="section", bind="query-params",
                                  placeholder="All sections")
        topics = st.multiselect("Topics", idx.topics, key="topic", bind="query-params", placeholder="All topics")
    sections = [key_of[h] for h in headings]
    if "view" not in st.session_state and "view" not in st.query_params:
        st.session_state["view"] = "Search"  # a default= would clash with the callbacks that set the view
    view = st.segmented_control("View", VIEWS, required=True, key="view", bind="query-params",
                                on_change=close_question, label_visibility="collapsed")

    if editor_open():  # New question / Edit, opened from the sidebar or a question's page
        editor_view(idx, paths)
        return
    open_id = st.query_params.get("open")
    if open_id:
        question_page(idx, open_id)
    elif view == "Browse":
        browse_view(idx, topics)
    elif view == "Topic map":
        map_view(idx, paths.index_dir)
    elif view == "Practice":
        practice_view(idx, paths, query or "", sections, topics)
    elif view == "Revision sheet":
        revision_view(idx)
    else:
        search_view(idx, query or "", sections, topics)


main()
