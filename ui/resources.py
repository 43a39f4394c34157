"""What one server process shares between sessions: the folders it serves, the loaded index, the build lock,
the search timings, the answer check and the progress database. Everything here is behind `st.cache_resource` /
`st.cache_data`, so it is made once."""

from __future__ import annotations

import collections
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from index import DEFAULT_CONTENT, DEFAULT_INDEX, open_index
from progress.grade import Grader
from progress import open_store

from . import topicmap

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Paths:
    """The folders the app serves, from environment variables (URL parameters never name files).

    MLPREP_INDEX (default build/index), MLPREP_CONTENT (default content/), MLPREP_PRACTICE (build/practice.json).
    """

    index_dir: Path
    content_dir: Path
    practice_file: Path

    @classmethod
    def from_env(cls) -> "Paths":
        # Read on every run, not at import: tests and a restarted script may point them elsewhere.
        return cls(Path(os.environ.get("MLPREP_INDEX") or DEFAULT_INDEX),
                   Path(os.environ.get("MLPREP_CONTENT") or DEFAULT_CONTENT),
                   Path(os.environ.get("MLPREP_PRACTICE") or ROOT / "build" / "practice.json"))


@st.cache_resource(show_spinner="Loading the index…", max_entries=2)
def load_index(index_dir: str, version: str):
    """The index, loaded once per server process and version (a rebuild publishes a new version name)."""
    idx = open_index(index_dir, check_stale=False)
    idx.embed_query("warm up")  # load the query model now rather than on the first search
    return idx


@st.cache_resource(show_spinner=False, max_entries=2)
def answer_grader(index_dir: str, version: str) -> Grader:
    """The answer check of one index version, shared by every session (it caches each question's key points)."""
    return Grader(load_index(index_dir, version))


@st.cache_resource(show_spinner=False)
def progress_store(database: str, practice_file: str):
    """(store, ImportResult): the progress database (`progress.open_store`), opened once per process, with the old
    practice.json tally imported into it once. An error (ProgressError) is not cached: the next run tries again."""
    store = open_store(database)
    return store, store.import_practice_json(Path(practice_file))


@st.cache_resource
def build_lock() -> threading.Lock:
    return threading.Lock()


@st.cache_resource
def search_timings() -> collections.deque:
    """Server-side seconds per search (time around idx.search), newest last; shown in the sidebar."""
    return collections.deque(maxlen=1000)


@st.cache_data(show_spinner=False, max_entries=4)
def map_points(index_dir: str, version: str):
    """The topic map's data frame: one row per question with its 2-D position."""
    import pandas as pd  # imported here: pandas and altair would slow a cold start that only searches

    idx = load_index(index_dir, version)
    xy = topicmap.project_2d(idx.question_vectors)
    return pd.DataFrame({
        "x": xy[:, 0], "y": xy[:, 1], "id": [q.id for q in idx.questions],
        "question": [q.title for q in idx.questions],
        "label": [topicmap.short_title(q.title, q.id) for q in idx.questions],
        "topic": [q.topics[0] if q.topics else "(none)" for q in idx.questions],
        "topics": [", ".join(q.topics) for q in idx.questions],
    })

