"""Keep Streamlit's collection after each run cheap.

After every run, Streamlit does a full garbage collection (`runner.postScriptGC`), which walks every object the
process holds that can be in a reference cycle: the loaded modules (Streamlit's own, NumPy, FAISS, Altair…), the
index and the query model. Walking them is most of a typed query's server CPU (BENCHMARKS.md, "App as you type"),
and none of them becomes garbage while the version is served. `gc.freeze()` moves everything alive at that moment
into the collector's permanent generation, which collections skip; what each run makes (its messages, session
state) is still collected after the run as before.
"""

from __future__ import annotations

import gc

import streamlit as st


@st.cache_resource(show_spinner=False, max_entries=4)
def freeze_heap(index_dir: str, version: str) -> None:
    """Once per served index version: collect what is garbage now, then freeze what is left."""
    gc.collect()
    gc.freeze()
