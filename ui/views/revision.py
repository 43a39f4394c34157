"""The Revision sheet view: every short answer on one page, with printable HTML and Markdown downloads."""

from __future__ import annotations

import streamlit as st

from .. import revision


def revision_view(idx) -> None:
    st.caption("Every short answer on one page. Download the HTML and print it (it is laid out for paper), "
               "or keep the Markdown.")
    cols = st.columns(2)
    cols[0].download_button("Download HTML (printable)", revision.revision_html(idx.questions),
                            file_name="revision-sheet.html", mime="text/html", icon=":material/print:",
                            width="stretch", on_click="ignore")
    cols[1].download_button("Download Markdown", revision.revision_markdown(idx.questions),
                            file_name="revision-sheet.md", mime="text/markdown", icon=":material/download:",
                            width="stretch", on_click="ignore")
    with st.container(border=True):
        st.markdown(revision.revision_markdown(idx.questions, for_screen=True))
