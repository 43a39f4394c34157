"""The sidebar: the editor's buttons (when this session may edit), practice (locally the learner box, on a served
instance the sign-in), a rebuild button for editors, and "About this server" (the bank, its model, when it was
built; locally also this server's search times, which on a served instance would be everyone's)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from ..lifecycle import build_index, built_at, index_state, show_content_errors
from ..mode import editing_allowed, served
from ..render import escape_md
from ..resources import Paths, search_timings
from .editor import editor_sidebar
from .practice import progress_sidebar
from .sign_in import sign_in_sidebar


def sidebar(idx, paths: Paths) -> None:
    with st.sidebar:
        editor_sidebar(paths)
        # Only drawn for a session that may edit, and acted on in the same branch: a forged click from another
        # session has no button to land on.
        if editing_allowed() and st.button("Rebuild index", help="Re-read the content folder and embed what changed"):
            rebuild(idx, paths)
        if notice := st.session_state.pop("index_notice", None):
            st.success(escape_md(notice))
        if served():
            sign_in_sidebar(paths)
        else:
            progress_sidebar(paths)
        about(idx)


def rebuild(idx, paths: Paths) -> None:
    state = index_state(paths.index_dir, paths.content_dir)
    if state.errors:
        show_content_errors(state.errors, serving=True)
    elif build_index(paths, state.model or idx.manifest["model"].get("source"), "Rebuilding"):
        st.session_state["index_notice"] = st.session_state.pop("last_build", "")
        st.rerun()  # load the version just published


def about(idx) -> None:
    with st.expander("About this server", key="about"):
        st.markdown(f"**Bank:** {len(idx.questions)} questions, {len(idx.chunk_ids)} sections, "
                    f"{len(idx.topics)} topics  \n"
                    f"**Model:** {escape_md(idx.model_name)}  \n"
                    f"**Built:** {escape_md(built_at(idx.built_at))}")
        timings = search_timings()
        if timings and not served():
            p50, p95 = np.percentile(np.asarray(timings) * 1000, [50, 95])
            st.caption(f"Server-side search time over the last {len(timings)} queries: "
                       f"p50 {p50:.0f} ms, p95 {p95:.0f} ms")
