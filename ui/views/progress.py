"""The Progress view: where the learner stands and what is left before the interview. The counts (New, Learning,
Review), a daily time budget ("I have N minutes a day", stored with the learner) and its verdict, readiness per
topic, the questions planned per day up to the interview, the review calendar, true retention, and the weakest
questions with a button that practises them. Every chart has its figures in a caption (ui/charts.py)."""

from __future__ import annotations

import streamlit as st

from progress import ProgressError
from progress.schema import MAX_DAILY_MINUTES
from progress.stats import budget_text

from .. import charts, practice
from ..mode import error_detail
from ..render import escape_md
from ..resources import Paths
from .practice import WEAK_SOURCE, current_interview, learner_and_progress, learner_tz

WEAKEST_SHOWN = 8


def counts_line(counts) -> str:
    """New, Learning, Review as the page says them (Anki's names)."""
    return f"New {counts.new} · Learning {counts.learning} · Review {counts.review}"


def learner_store(paths: Paths):
    """(learner, store) for the current learner, or None after saying why there is none."""
    found = learner_and_progress(paths, "see your progress")
    return None if found is None else found[:2]


def progress_view(idx, paths: Paths) -> None:
    found = learner_store(paths)
    if found is None:
        return
    learner, store = found
    tz, now = learner_tz(), practice.now()
    today = now.astimezone(tz).date()
    interview = current_interview(today)
    try:
        minutes = budget_input(store, learner)
        o = store.outlook(learner, [(q.id, q.topics) for q in idx.questions], now, interview, tz, minutes)
    except ProgressError as exc:
        st.error(f"Practice progress is unavailable: {escape_md(error_detail(exc, 'Reading progress'))}")
        return
    titles = {q.id: q.title for q in idx.questions}
    st.markdown(f"**{escape_md(learner)}**: **{counts_line(o.plan.counts)}** of {len(idx.questions)} questions. "
                "New: never practised; Learning: in FSRS's short steps (back within minutes); Review: learnt, due "
                "by the end of today.")
    if interview is None:
        st.caption("Set an interview date in the sidebar to plan every question before it.")
    if o.budget is not None:
        (st.info if o.budget.fits else st.warning)(escape_md(budget_text(o.budget, lambda q: titles.get(q, q))))

    st.markdown("#### Readiness per topic")
    chart, text = charts.readiness_chart(o.topics)
    st.altair_chart(chart, width="stretch")
    st.caption(escape_md(text) + " Readiness is FSRS's predicted chance of recalling a question's answer, "
               "averaged over the topic; a question never practised counts 0%.")

    st.markdown("#### Planned each day" + (" until the interview" if interview else " for the next two weeks"))
    chart, text = charts.forecast_chart(o.forecast.days, o.forecast.capacity)
    st.altair_chart(chart, width="stretch")
    st.caption(escape_md(text) + " Counted as if every answer were Good; a weak answer brings its question back "
               "sooner.")

    st.markdown("#### Reviews so far")
    chart, text = charts.calendar_chart(o.calendar, today)
    st.altair_chart(chart, width="stretch")
    st.caption(escape_md(text))
    if o.retention is None:
        st.markdown("**True retention:** not yet measured: it counts reviews made a day or more after the one "
                    "before, and there are none yet.")
    else:
        st.markdown(f"**True retention: {o.retention:.0%}** of {o.retention_reviews} review"
                    f"{'s' if o.retention_reviews != 1 else ''} made a day or more after the one before were "
                    "passed (not rated Again). FSRS aims for 90%.")

    st.markdown("#### Weakest questions")
    weak = [q for q in o.weak if q in titles]
    if not weak:
        st.caption("None: a question is weak when you last rated it Again or Hard, or its predicted recall has "
                   "fallen below 80%.")
        return
    st.markdown("\n".join(f"{k}. {escape_md(titles[q])}" for k, q in enumerate(weak[:WEAKEST_SHOWN], 1)))
    st.button(f"Practise these ({len(weak)})", key="practise-weak", type="primary", icon=":material/replay:",
              on_click=practise_weak)


def budget_input(store, learner: str) -> int | None:
    """The daily time budget box, filled from the learner's stored value; a change is stored at once."""
    key = f"budget-{learner.casefold()}"
    if key not in st.session_state:
        st.session_state[key] = store.daily_minutes(learner) or 0
    st.number_input("I have this many minutes a day (0: no limit)", min_value=0, max_value=MAX_DAILY_MINUTES,
                    step=5, key=key, on_change=store_budget, args=(store, learner, key),
                    help="The plan then brings in only what fits each day, timed by your own median time per "
                         "review, and says when the bank cannot be covered before the interview.")
    if error := st.session_state.pop("budget_error", None):
        st.error(escape_md(error))
    return st.session_state[key] or None


def store_budget(store, learner: str, key: str) -> None:
    try:
        store.set_daily_minutes(learner, st.session_state[key] or None)
    except ProgressError as exc:
        st.session_state["budget_error"] = f"Your daily time was not saved: {error_detail(exc, 'Saving a budget')}"


def practise_weak() -> None:
    """"Practise these": the Practice view, its questions drawn from the learner's weak ones."""
    st.session_state["practice_source"] = WEAK_SOURCE
    st.session_state["view"] = "Practice"
