"""The Streamlit page: search the question bank, read answers, browse and map topics, practise, revise.

Thin over `index/`: ranking, grouping and related questions come from the index; `ui/` holds the pure helpers
(safe Markdown, revision sheet, practice tally, map projection). Nothing from content or a query is rendered as
HTML: it goes through `ui.render` (escaped Markdown) or plain-text elements.

Folders (environment variables, so tests and users can choose; URL parameters never name files):
    MLPREP_INDEX     the index folder (default build/index)
    MLPREP_CONTENT   the content folder (default content/)
    MLPREP_PRACTICE  the practice tally file (default build/practice.json)

URL parameters: q (query), section and topic (filters), view, open (a question id).
"""

from __future__ import annotations

import collections
import concurrent.futures
import os
import random
import threading
import time
from pathlib import Path

import streamlit as st

from index import (DEFAULT_CONTENT, DEFAULT_INDEX, ContentErrors, IndexDamaged, QueryError, SearchToolError, open_index,
                   store)
from ingest.build import build as build_index_folder
from ui import lifecycle, practice, revision, topicmap
from ui.render import escape_md, example_queries, highlight, nearest_topics, why_matched

ROOT = Path(__file__).resolve().parent
INDEX_DIR = Path(os.environ.get("MLPREP_INDEX") or DEFAULT_INDEX)
CONTENT_DIR = Path(os.environ.get("MLPREP_CONTENT") or DEFAULT_CONTENT)
PRACTICE_FILE = Path(os.environ.get("MLPREP_PRACTICE") or ROOT / "build" / "practice.json")

VIEWS = ("Search", "Browse", "Topic map", "Practice", "Revision sheet")
MAX_GROUPS = 5  # questions shown per search
SEARCH_K = 20  # section hits asked for, grouped into questions
SEARCH_LABEL = "Search the question bank"
# Our own constant script (never content): focus the search box on first load unless the user is elsewhere. The
# box may reach the page after this script (Streamlit adds elements as they arrive; a CI run under load caught it
# missing once), so the script looks again every 50 ms for up to 10 s rather than once.
FOCUS_SCRIPT = f"""<script>
(() => {{
  const started = Date.now();
  const focusBox = () => {{
    const box = document.querySelector('input[aria-label="{SEARCH_LABEL}"]');
    if (box) {{
      if (document.activeElement === null || document.activeElement === document.body) box.focus();
    }} else if (Date.now() - started < 10000) {{
      setTimeout(focusBox, 50);
    }}
  }};
  focusBox();
}})();
</script>"""


# --------------------------------------------------------------------------- process-wide resources
@st.cache_resource(show_spinner="Loading the index…", max_entries=2)
def load_index(index_dir: str, version: str):
    """The index, loaded once per server process and version (a rebuild publishes a new version name)."""
    idx = open_index(index_dir, check_stale=False)
    idx.embed_query("warm up")  # load the query model now rather than on the first search
    return idx


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
    import pandas as pd  # imported here: pandas and altair add about 1.5 s to a cold start that searches first

    idx = load_index(index_dir, version)
    xy = topicmap.project_2d(idx.question_vectors)
    return pd.DataFrame({
        "x": xy[:, 0], "y": xy[:, 1], "id": [q.id for q in idx.questions],
        "question": [q.title for q in idx.questions],
        "topic": [q.topics[0] if q.topics else "(none)" for q in idx.questions],
        "topics": [", ".join(q.topics) for q in idx.questions],
    })


def percentile(values, p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


# --------------------------------------------------------------------------- callbacks (run before the rerun)
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
    st.session_state["view"] = "Browse"
    st.session_state["browse_topic"] = topic
    close_question()


def on_map_select() -> None:
    picked = st.session_state.get("map", {}).get("selection", {}).get("pick", [])
    if picked and picked[0].get("id"):
        open_question(str(picked[0]["id"]))


# --------------------------------------------------------------------------- index lifecycle
def build_index(model: str | None, why: str) -> bool:
    """Build (or update) the index with a visible progress bar. True when a usable index was published."""
    bar = st.progress(0.0, text=f"{why}: checking the question bank…")
    lock = build_lock()
    if not lock.acquire(blocking=False):
        bar.empty()
        st.info("Another session is rebuilding the index; showing the current one meanwhile.")
        return False
    try:
        # The build runs in a worker thread so that the bar can show it is alive (elapsed seconds) meanwhile.
        started = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="build") as pool:
            job = pool.submit(build_index_folder, CONTENT_DIR, INDEX_DIR, model=model)
            while not job.done():
                bar.progress(0.1, text=f"{why}: embedding the question bank with {model or 'the bundled model'}, "
                                       f"{time.perf_counter() - started:.0f} s (about half a minute the first time)…")
                concurrent.futures.wait([job], timeout=0.5)
            report = job.result()
        bar.progress(1.0, text=f"Index ready: {report.summary()}")
        st.session_state["last_build"] = f"Index ready: {report.summary()}"
        return True
    except ContentErrors as exc:
        bar.empty()
        show_content_errors(exc.errors, serving=lifecycle.index_state(INDEX_DIR, CONTENT_DIR).exists)
        return False
    except SearchToolError as exc:
        bar.empty()
        st.error(escape_md(str(exc)))
        return False
    finally:
        lock.release()


def show_content_errors(errors, serving: bool) -> None:
    n = len(errors)
    tail = ("The last good index keeps serving until they are fixed." if serving
            else "There is no index to serve until they are fixed.")
    st.error(f"The question bank has {n} problem{'s' if n != 1 else ''}, so the index was not rebuilt. {tail}")
    st.code("\n".join(str(e) for e in errors), language=None, wrap_lines=True)


def ensure_index():
    """Build a missing or stale index, report broken content, and return the loaded index (or stop the page)."""
    state = lifecycle.index_state(INDEX_DIR, CONTENT_DIR)
    if state.errors:
        show_content_errors(state.errors, serving=state.exists)
    elif not state.fresh:
        build_index(state.model, "No index yet" if not state.exists else "The question bank changed")
    try:
        try:
            return load_index(str(INDEX_DIR), store.current_version(INDEX_DIR).name)
        except IndexDamaged:
            # Damaged or written by an older format: rebuild once from valid content, then load the new version.
            if state.errors or not build_index(state.model, "The index cannot be read, rebuilding it"):
                raise
        return load_index(str(INDEX_DIR), store.current_version(INDEX_DIR).name)
    except SearchToolError as exc:
        st.error(escape_md(str(exc)))
        st.stop()


def sidebar(idx) -> None:
    with st.sidebar:
        st.subheader("Index")
        st.markdown(f"**Model:** {escape_md(idx.model_name)}  \n"
                    f"**Bank:** {len(idx.questions)} questions, {len(idx.chunk_ids)} sections, "
                    f"{len(idx.topics)} topics  \n"
                    f"**Built:** {escape_md(lifecycle.built_at(idx.built_at))}")
        if st.button("Rebuild index", help="Re-read the content folder and embed what changed"):
            state = lifecycle.index_state(INDEX_DIR, CONTENT_DIR)
            if state.errors:
                show_content_errors(state.errors, serving=True)
            elif build_index(state.model or idx.manifest["model"].get("source"), "Rebuilding"):
                st.session_state["index_notice"] = st.session_state.pop("last_build", "")
                st.rerun()  # load the version just published
        if notice := st.session_state.pop("index_notice", None):
            st.success(escape_md(notice))
        timings = search_timings()
        if timings:
            ms = [t * 1000 for t in timings]
            st.caption(f"Server-side search time over the last {len(ms)} queries: "
                       f"p50 {percentile(ms, 50):.0f} ms, p95 {percentile(ms, 95):.0f} ms")
        st.caption(f"Practice tally kept on this server in {escape_md(str(PRACTICE_FILE))}")


# --------------------------------------------------------------------------- views
def run_search(idx, query: str, sections, topics):
    """The search result and its server-side seconds (also kept for the sidebar's figures)."""
    started = time.perf_counter()
    result = idx.search(query, k=SEARCH_K, sections=sections or None, topics=topics or None)
    took = time.perf_counter() - started
    search_timings().append(took)
    return result, took


def empty_state(idx) -> None:
    n_sections = len(idx.chunk_ids)
    st.markdown(f"**{len(idx.questions)} questions** ({n_sections} answer sections) in "
                f"**{len(idx.topics)} topics**. Type a question or a few words; results appear as you type.")
    st.caption("Try one of these:")
    cols = st.columns(2)
    for i, example in enumerate(example_queries(idx.questions)):
        cols[i % 2].button(escape_md(example), key=f"example-{i}", on_click=set_query, args=(example,),
                           icon=":material/search:", width="stretch")
    st.caption("Topics:")
    topic_cols = st.columns(4)
    for i, topic in enumerate(idx.topics):
        topic_cols[i % 4].button(escape_md(topic), key=f"empty-topic-{topic}", on_click=browse_topic,
                                 args=(topic,), type="tertiary")


def search_view(idx, query: str, sections, topics) -> None:
    if not query.strip():
        empty_state(idx)
        return
    try:
        result, took = run_search(idx, query, sections, topics)
    except QueryError as exc:
        st.info(escape_md(str(exc)))
        return
    if result.no_close_match or not result.hits:
        no_close_match(idx, result, filtered=bool(sections or topics))
        return
    notes = []
    if result.corrected:
        notes.append("searched for " + ", ".join(f"“{escape_md(v)}” (you typed “{escape_md(k)}”)"
                                                 for k, v in result.corrected.items()))
    if result.section_intent:
        notes.append(f"showing {escape_md(idx.sections[result.section_intent].lower())} first")
    groups = result.groups[:MAX_GROUPS]
    st.caption(f"{len(groups)} question{'s' if len(groups) != 1 else ''}, answered in {took * 1000:.0f} ms"
               + ("; " + "; ".join(notes) if notes else ""))
    for group in groups:
        result_card(idx, group)


def result_card(idx, group) -> None:
    best = group.hits[0]
    terms = {t for hit in group.hits for t in hit.matched_terms}
    question = idx.question(group.question_id)
    with st.container(border=True):
        st.markdown(f"#### {escape_md(group.question)}")
        st.badge(escape_md(best.heading), icon=":material/bookmark:", color="blue")
        st.markdown(highlight(best.text, terms))
        st.caption(escape_md(why_matched(best)))
        for section in question.sections:
            if section.key != best.section:
                with st.expander(escape_md(section.heading)):
                    st.markdown(highlight(section.text, terms))
        st.button("Open this question and related ones", key=f"open-{group.question_id}",
                  on_click=open_question, args=(group.question_id,), icon=":material/open_in_full:")


def no_close_match(idx, result, filtered: bool) -> None:
    where = "with these filters" if filtered else "in the bank"
    st.warning(f"Nothing {where} answers “{escape_md(result.query)}” closely. The bank has "
               f"{len(idx.questions)} questions; try other words, or browse the nearest topics below.")
    topics = nearest_topics(result) or idx.topics[:4]
    cols = st.columns(max(1, len(topics)))
    for col, topic in zip(cols, topics):
        col.button(escape_md(topic), key=f"near-{topic}", on_click=browse_topic, args=(topic,),
                   icon=":material/folder_open:")
    if result.groups:
        with st.expander("Closest questions anyway (weak matches)"):
            for group in result.groups[:MAX_GROUPS]:
                st.button(escape_md(group.question), key=f"weak-{group.question_id}", on_click=open_question,
                          args=(group.question_id,), type="tertiary")


def question_page(idx, question_id: str) -> None:
    try:
        question = idx.question(question_id)
    except SearchToolError as exc:
        st.warning(escape_md(str(exc)))
        st.button("Back", on_click=close_question, icon=":material/arrow_back:")
        return
    st.button("Back", on_click=close_question, icon=":material/arrow_back:", key="back")
    st.markdown(f"### {escape_md(question.title)}")
    if question.topics:
        st.caption("Topics: " + escape_md(", ".join(question.topics)))
    for section in question.sections:
        st.markdown(f"**{escape_md(section.heading)}**")
        st.markdown(escape_md(section.text))
    st.divider()
    st.markdown("**Related questions**")
    for rel in idx.related(question.id, k=3):
        st.button(escape_md(rel.question), key=f"related-{rel.question_id}", on_click=open_question,
                  args=(rel.question_id,), icon=":material/arrow_forward:")


def browse_view(idx) -> None:
    chosen = st.selectbox("Topic", ["All topics", *idx.topics], key="browse_topic")
    topics = idx.topics if chosen == "All topics" else [chosen]
    for topic in topics:
        st.markdown(f"**{escape_md(topic)}**")
        for q in idx.questions:
            if topic in q.topics:
                st.button(escape_md(q.title), key=f"browse-{topic}-{q.id}", on_click=open_question, args=(q.id,),
                          type="tertiary")


def map_view(idx) -> None:
    import altair as alt

    st.caption("Each dot is a question; questions close together are related (a 2-D projection of their "
               "vectors). Click a dot to open it. Keyboard users: the Browse view lists the same questions.")
    data = map_points(str(INDEX_DIR), idx.version.name)
    pick = alt.selection_point(name="pick", fields=["id"], on="click")
    base = alt.Chart(data).encode(x=alt.X("x:Q", axis=None), y=alt.Y("y:Q", axis=None))
    dots = base.mark_circle(size=220, opacity=0.9).encode(
        color=alt.Color("topic:N", title="Topic"), tooltip=[alt.Tooltip("question:N", title="Question"),
                                                            alt.Tooltip("topics:N", title="Topics")],
    ).add_params(pick)
    labels = base.mark_text(align="left", dx=9, fontSize=11).encode(text="id:N")
    st.altair_chart(dots + labels, on_select=on_map_select, selection_mode="pick", key="map", height=460,
                    alt="Map of the questions, coloured by topic")


def practice_pool(idx, query: str, sections, topics) -> tuple[list[str], str]:
    source = st.radio("Questions from", ["All questions", "One topic", "The current search results"],
                      key="practice_source", horizontal=True)
    if source == "One topic":
        topic = st.selectbox("Topic", idx.topics, key="practice_topic")
        return [q.id for q in idx.questions if topic in q.topics], f"topic {topic}"
    if source == "The current search results":
        if not query.strip():
            st.info("Search for something first; until then questions come from the whole bank.")
            return [q.id for q in idx.questions], "the whole bank"
        try:
            result, _ = run_search(idx, query, sections, topics)
        except QueryError as exc:
            st.info(escape_md(str(exc)))
            return [q.id for q in idx.questions], "the whole bank"
        return [g.question_id for g in result.groups[:MAX_GROUPS]], "the current results"
    return [q.id for q in idx.questions], "the whole bank"


def practice_view(idx, query: str, sections, topics) -> None:
    tally_store = practice.TallyStore(PRACTICE_FILE)
    pool, label = practice_pool(idx, query, sections, topics)
    tally = tally_store.load()
    counts = practice.summary(pool, tally)
    st.caption(f"From {escape_md(label)}: {counts['shaky']} shaky, {counts['unseen']} not yet practised, "
               f"{counts['knew']} known. Shaky ones come back first.")
    current = st.session_state.get("practice_q")
    if current not in pool:  # the pool holds only this index's ids
        current = practice.next_question(pool, tally)
        st.session_state["practice_q"], st.session_state["practice_stage"] = current, 0
    if current is None:
        st.info("No questions to practise here.")
        return
    stage = st.session_state.get("practice_stage", 0)
    question = idx.question(current)
    with st.container(border=True):
        st.markdown(f"### {escape_md(question.title)}")
        if stage == 0:
            st.caption("Think of your answer, then reveal the short answer.")
            st.button("Reveal the short answer", key="reveal", on_click=set_stage, args=(1,), type="primary")
        if stage >= 1:
            short = question.section("short")
            st.markdown("**Short answer**")
            st.markdown(escape_md(short.text if short else ""))
        if stage == 1:
            st.button("Show the rest", key="reveal-rest", on_click=set_stage, args=(2,))
        if stage >= 2:
            for section in question.sections:
                if section.key != "short":
                    st.markdown(f"**{escape_md(section.heading)}**")
                    st.markdown(escape_md(section.text))
        if stage >= 1:
            cols = st.columns(3)
            cols[0].button("Knew it", key="mark-knew", on_click=mark, args=(current, "knew", pool),
                           icon=":material/check:", width="stretch")
            cols[1].button("Shaky", key="mark-shaky", on_click=mark, args=(current, "shaky", pool),
                           icon=":material/replay:", width="stretch")
    st.button("Skip to another question", key="skip", on_click=skip, args=(current, pool))
    shaky = [q for q in idx.questions if tally.get(q.id, {}).get("last") == "shaky"]
    if shaky:
        st.markdown("**Shaky so far:** " + "; ".join(escape_md(q.title) for q in shaky))


def set_stage(stage: int) -> None:
    st.session_state["practice_stage"] = stage


def mark(question_id: str, how: str, pool: list[str]) -> None:
    tally = practice.TallyStore(PRACTICE_FILE).mark(question_id, how)
    st.session_state["practice_q"] = practice.next_question(pool, tally, random.Random(), exclude=question_id)
    st.session_state["practice_stage"] = 0


def skip(question_id: str, pool: list[str]) -> None:
    tally = practice.TallyStore(PRACTICE_FILE).load()
    st.session_state["practice_q"] = practice.next_question(pool, tally, random.Random(), exclude=question_id)
    st.session_state["practice_stage"] = 0


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


# --------------------------------------------------------------------------- the page
def main() -> None:
    st.set_page_config(page_title="ML interview prep", page_icon=":material/school:", layout="centered")
    st.markdown("## ML interview prep")
    # The box comes before the index is loaded, so that on a cold start the user can already type.
    query = st.text_input(SEARCH_LABEL, key="q", live=True, bind="query-params", on_change=on_query_change,
                          placeholder="e.g. how do I detect leakage", label_visibility="collapsed",
                          icon=":material/search:")
    st.html(FOCUS_SCRIPT, unsafe_allow_javascript=True)
    idx = ensure_index()
    cols = st.columns(2)
    # Options are the headings (the URL reads ?section=Common+mistakes); the search takes the section keys.
    key_of = {heading: key for key, heading in idx.sections.items()}
    headings = cols[0].multiselect("Section kinds", list(key_of), key="section", bind="query-params",
                                   placeholder="All sections")
    sections = [key_of[h] for h in headings]
    topics = cols[1].multiselect("Topics", idx.topics, key="topic", bind="query-params", placeholder="All topics")
    if "view" not in st.session_state and "view" not in st.query_params:
        st.session_state["view"] = "Search"  # a default= would clash with the callbacks that set the view
    view = st.segmented_control("View", VIEWS, required=True, key="view", bind="query-params",
                                on_change=close_question, label_visibility="collapsed")
    sidebar(idx)

    open_id = st.query_params.get("open")
    if open_id:
        question_page(idx, open_id)
    elif view == "Browse":
        browse_view(idx)
    elif view == "Topic map":
        map_view(idx)
    elif view == "Practice":
        practice_view(idx, query or "", sections, topics)
    elif view == "Revision sheet":
        revision_view(idx)
    else:
        search_view(idx, query or "", sections, topics)


main()
