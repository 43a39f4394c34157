"""The sidebar: what the index is, a rebuild button, the server's search times, and practice (learner, interview
date, where progress is kept)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from ..lifecycle import build_index, built_at, index_state, show_content_errors
from ..render import escape_md
from ..resources import Paths, search_timings
from .practice import progress_sidebar
from .editor import editor_sidebar


def sidebar(idx, paths: Paths) -> None:
    with st.sidebar:
        editor_sidebar(paths)
        st.subheader("Index")
        st.markdown(f"**Model:** {escape_md(idx.model_name)}  \n"
                    f"**Bank:** {len(idx.questions)} questions, {len(idx.chunk_ids)} sections, "
                    f"{len(idx.topics)} topics  \n"
                    f"**Built:** {escape_md(built_at(idx.built_at))}")
        if st.button("Rebuild index", help="Re-read the content folder and embed what changed"):
            state = index_state(paths.index_dir, paths.content_dir)
            if state.errors:
                show_content_errors(state.errors, serving=True)
            elif build_index(paths, state.model or idx.manifest["model"].get("source"), "Rebuilding"):
                st.session_state["index_notice"] = st.session_state.pop("last_build", "")
                st.rerun()  # load the version just published
        if notice := st.session_state.pop("index_notice", None):
            st.success(escape_md(notice))
        timings = search_timings()
        if timings:
            p50, p95 = np.percentile(np.asarray(timings) * 1000, [50, 95])
            st.caption(f"Server-side search time over the last {len(timings)} queries: "
                       f"p50 {p50:.0f} ms, p95 {p95:.0f} ms")
        progress_sidebar(paths)
