"""The Practice view: the plan's next question (due first, then new; with an interview date, every question once
before it and the weakest again), the candidate's own answer checked against the model answer, the model answer,
and a rating (the check's suggestion highlighted, the learner's choice recorded). Plus the sidebar's learner and
interview date, and the Anki export.

Progress is per learner, in the progress database (`progress/`, MLPREP_DATABASE or MLPREP_DATABASE_URL). Locally
the learner (`?learner=`) and the interview date (`?interview=2026-12-15`) are kept in the URL and validated; on a
served instance (ui/mode.py) the learner is whoever signed in (ui/views/sign_in.py) and the date is stored with
them."""

from __future__ import annotations

import functools
import time
from datetime import timedelta
from pathlib import Path

import streamlit as st

from index import QueryError
from progress import ProgressError
from progress.anki import DECK_NAME, deck_bytes, weak_deck_name
from progress.store import ROOT, database_from_env, redact

from .. import practice
from ..mode import error_detail, served
from ..render import escape_md
from ..resources import Paths
from .answer_check import answer_box
from .sign_in import open_progress, signed_in_learner
from .search import MAX_GROUPS, run_search

SECTION_ORDER = ("short", "explanation", "example", "mistakes", "story")


# --------------------------------------------------------------------------- sidebar: who practises, for when
def progress_sidebar(paths: Paths) -> None:
    """A local copy's learner and interview date (both kept in the URL), and where progress is kept."""
    today = practice.now().astimezone(learner_tz()).date()
    if "interview" not in st.session_state:  # first run of this session: the URL's value, checked before use
        _, problem = practice.interview_from(st.query_params.get("interview"), today)
        st.session_state["interview_problem"] = problem
    st.subheader("Practice")
    st.text_input("Learner", key="learner", bind="query-params", max_chars=80, placeholder="your name",
                  help="Your progress is kept under this name (it is in the page's link). With no name you "
                       f"practise as the local learner “{practice.DEFAULT_LEARNER}”.")
    learner, learner_problem = practice.learner_from(st.session_state.get("learner"))
    if learner_problem:
        st.error(escape_md(learner_problem))
    elif learner == practice.DEFAULT_LEARNER:
        st.caption(f"Local learner “{practice.DEFAULT_LEARNER}” (only you, on this computer).")
    st.date_input("Interview date", value=None, key="interview", bind="query-params", min_value=today,
                  max_value=today + timedelta(days=practice.MAX_INTERVIEW_DAYS), format="YYYY-MM-DD",
                  on_change=forget_interview_problem,
                  help="With a date, every question comes up at least once before it and the weakest ones again.")
    if problem := st.session_state.get("interview_problem"):
        st.warning(escape_md(problem))
    # named, not opened: the database is opened by the Practice page, so searching never creates or touches it
    st.caption(f"Progress kept in {escape_md(database_shown())}")


def database_shown() -> str:
    """The progress database as a local page names it: relative to the checkout when it is inside it, a URL
    without its password otherwise."""
    where = redact(database_from_env())
    if "://" in where:
        return where
    try:
        return Path(where).resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return where


def forget_interview_problem() -> None:
    st.session_state.pop("interview_problem", None)


def learner_tz():
    return practice.learner_zone(st.context.timezone)


def current_learner() -> tuple[str | None, str | None]:
    """(learner, problem): on a served instance whoever signed in; locally the sidebar's box or the URL."""
    if served():
        learner = signed_in_learner()
        return (learner, None) if learner else (None, SIGN_IN_FIRST)
    # The sidebar is drawn after the page body: on a session's first run its box has no state yet, the URL has.
    return practice.learner_from(st.session_state.get("learner", st.query_params.get("learner")))


SIGN_IN_FIRST = ("Sign in with your name and passphrase in the sidebar to practise: your progress is private "
                 "to you.")


def current_interview(today):
    if "interview" in st.session_state:
        return st.session_state["interview"]
    return practice.interview_from(st.query_params.get("interview"), today)[0]


# --------------------------------------------------------------------------- the page
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


def practice_view(idx, paths: Paths, query: str, sections, topics) -> None:
    learner, problem = current_learner()
    if problem == SIGN_IN_FIRST:
        st.info(SIGN_IN_FIRST, icon=":material/login:")
        return
    if problem:
        st.error(f"{escape_md(problem)} Change the learner name in the sidebar to practise.")
        return
    opened = open_progress(paths)
    if opened is None:
        return
    store, migrated = opened
    told = st.session_state.get("practice_migration_told")
    if migrated.imported and not served() and not told:  # said once per session, on a local copy
        st.session_state["practice_migration_told"] = True
        st.caption(escape_md(f"The old practice tally was imported once: {migrated.message}."))
    tz, now = learner_tz(), practice.now()
    interview = current_interview(now.astimezone(tz).date())
    pool, label = practice_pool(idx, query, sections, topics)
    try:
        plan = store.plan(learner, pool, now=now, interview=interview, tz=tz)
    except ProgressError as exc:
        st.error(f"Practice progress is unavailable: {escape_md(error_detail(exc, 'Reading a plan'))}")
        return
    st.markdown(f"Practising as **{escape_md(learner)}**, from {escape_md(label)}: "
                f"**{escape_md(practice.plan_summary(plan))}**")
    if notice := st.session_state.pop("practice_notice", None):
        st.success(escape_md(notice), icon=":material/task_alt:")
    if (error := st.session_state.get("practice_error")) and not st.session_state.get("practice_stage"):
        st.error(escape_md(error))  # a failed skip; after the reveal the error shows beside the rating buttons

    current = st.session_state.get("practice_q")
    if st.session_state.get("practice_for") != (learner, tuple(pool)) or current not in pool:
        current = None  # another learner or another pool: start from the plan
    if current is None:
        current = plan.next_question()
        show(current, learner, pool)
    if current is None:
        later = f" The next review is {practice.when_text(plan.next_at, now, tz)}." if plan.next_at else ""
        st.info(("Nothing to practise here." if not pool else "Nothing is due now: you are up to date." + later))
        if pool:
            st.button("Practise ahead of the plan", key="practise-ahead", on_click=show_next,
                      args=(store, learner, pool, interview, tz, None))
    else:
        question_card(idx, store, plan, learner, current, pool, interview, tz, now)
        st.button("Skip to another question", key="skip", on_click=show_next,
                  args=(store, learner, pool, interview, tz, current))
    weak_and_export(idx, store, learner, now)


def question_card(idx, store, plan, learner, qid, pool, interview, tz, now) -> None:
    question = idx.question(qid)
    revealed = st.session_state.get("practice_stage", 0) >= 1
    with st.container(border=True):
        st.markdown(f"### {escape_md(question.title)}")
        st.caption(escape_md(practice.reason_text(plan.item(qid), now, tz)))
        grade = answer_box(idx, qid, key=f"practice-{qid}")
        if not revealed:
            st.button("Show the model answer", key="reveal", icon=":material/visibility:",
                      on_click=reveal)
            return
        st.divider()
        st.markdown("**The model answer**")
        sections = {s.key: s for s in question.sections}
        for key in [k for k in SECTION_ORDER if k in sections] + [k for k in sections if k not in SECTION_ORDER]:
            st.markdown(f"**{escape_md(sections[key].heading)}**")
            st.markdown(escape_md(sections[key].text))
        st.divider()
        suggested = grade.rating if grade is not None else None
        st.markdown("**How did it go?** " + (f"The check suggests **{suggested.title()}** (highlighted): press it, or "
                                             "the rating you think is fairer." if suggested else
                                             "Check your answer for a suggestion, or rate it yourself."))
        if error := st.session_state.get("practice_error"):
            st.error(escape_md(error))
        for col, rating in zip(st.columns(len(practice.RATINGS)), practice.RATINGS):
            col.button(rating.title(), key=f"rate-{rating}", help=practice.RATING_HELP[rating], width="stretch",
                       type="primary" if rating == suggested else "secondary",
                       on_click=record, args=(store, learner, qid, question.title, rating, pool, interview, tz))


def reveal() -> None:
    st.session_state["practice_stage"] = 1


def show(qid, learner, pool) -> None:
    st.session_state["practice_q"], st.session_state["practice_for"] = qid, (learner, tuple(pool))
    st.session_state["practice_stage"] = 0
    st.session_state["practice_shown_at"] = time.monotonic()
    st.session_state.pop("practice_error", None)


def show_next(store, learner, pool, interview, tz, exclude) -> None:
    """Skip, or practise ahead: the plan's next question other than `exclude`, or the earliest planned one."""
    try:
        plan = store.plan(learner, pool, now=practice.now(), interview=interview, tz=tz)
    except ProgressError as exc:
        st.session_state["practice_error"] = f"Could not read your plan: {error_detail(exc, 'Reading a plan')}"
        return
    show(plan.next_question(exclude=exclude, ahead=True), learner, pool)


def record(store, learner, qid, title, rating, pool, interview, tz) -> None:
    """A rating button's callback: one review, one transaction. On a database error nothing moves on: the
    message says what happened and the typed answer stays in its box, so pressing the rating again retries."""
    if served() and signed_in_learner() != learner:  # signed out (or expired) since the buttons were drawn
        st.session_state["practice_error"] = "Your rating was not recorded: sign in again to practise."
        return
    started = st.session_state.get("practice_shown_at")
    duration_ms = int((time.monotonic() - started) * 1000) if started else None
    at = practice.now()
    try:
        card = store.record_review(learner, qid, rating, now=at, duration_ms=duration_ms, source="app")
    except ProgressError as exc:
        st.session_state["practice_error"] = (f"Your rating was not recorded: {error_detail(exc, 'Recording a review')}. "
                                              "Your answer is kept; press the rating again to retry.")
        return
    st.session_state["practice_notice"] = (f"Recorded {rating.title()} for “{title}”: next review "
                                           f"{practice.when_text(card.due, at, tz)}.")
    for key in (f"practice-{qid}-answer", f"practice-{qid}-grade"):
        st.session_state.pop(key, None)
    try:
        nxt = store.plan(learner, pool, now=at, interview=interview, tz=tz).next_question(exclude=qid)
    except ProgressError:
        nxt = None  # the review is recorded; the next run reads the plan again and says what is wrong
    show(nxt, learner, pool)


# --------------------------------------------------------------------------- weak questions, Anki
def weak_and_export(idx, store, learner: str, now) -> None:
    by_id = {q.id: q for q in idx.questions}
    try:
        weak = [by_id[q] for q in store.weak_questions(learner, now=now) if q in by_id]
    except ProgressError as exc:
        st.caption(f"Weak questions unavailable: {escape_md(error_detail(exc, 'Reading the weak list'))}")
        weak = []
    if weak:
        st.markdown("**Weak so far** (weakest first): " + "; ".join(escape_md(q.title) for q in weak))
    with st.expander("Take it with you: an Anki deck (.apkg)", key="anki"):
        st.caption("Import the file in Anki (File → Import). A newer export updates the notes already imported.")
        st.download_button(f"Download the bank ({len(idx.questions)} questions)", key="anki-bank",
                           data=functools.partial(deck_bytes, list(idx.questions), DECK_NAME),
                           file_name="ml-interview-prep.apkg", mime="application/octet-stream", on_click="ignore",
                           icon=":material/download:")
        if weak:
            st.download_button(f"Download my weak questions ({len(weak)})", key="anki-weak",
                               data=functools.partial(deck_bytes, weak, weak_deck_name(learner)),
                               file_name=practice.deck_file_name(learner), mime="application/octet-stream",
                               on_click="ignore", icon=":material/download:")
        else:
            st.caption("No weak questions yet: a question becomes weak when you rate it Again or Hard, or it is "
                       "not yet learnt to last a week.")
