"""The Mock interview view: N questions from the learner's plan (due and weak first), each answered aloud or typed,
each with one follow-up from the bank, then a summary with the ratings the check suggests, recorded only when the
learner confirms them. The session itself is `rehearse.mock.MockInterview`; this module only draws it."""

from __future__ import annotations

import streamlit as st

from index import QueryError
from progress import ProgressError
from rehearse.mock import MAIN, MAX_QUESTIONS, MockInterview, apply_ratings, pick_questions
from rehearse.transcribe import BUDGET_SECONDS

from .. import practice
from ..render import escape_md
from ..resources import Paths, answer_grader
from . import speak
from .practice import current_interview, learner_and_progress, learner_tz

SESSION = "mock"  # session key: (learner, MockInterview)


def mock_view(idx, paths: Paths) -> None:
    ready = learner_and_progress(paths, "start a mock interview")
    if ready is None:
        return
    learner, store, _ = ready
    held = st.session_state.get(SESSION)
    if held is None or held[0] != learner:
        start_form(idx, store, learner)
    elif not held[1].done:
        ask(idx, learner, held[1])
    else:
        summary(store, learner, held[1])


def start_form(idx, store, learner: str) -> None:
    st.markdown(f"**Mock interview** as **{escape_md(learner)}**: questions from your plan (due first, then the "
                "ones you find hard, then new ones), each with one follow-up, answered aloud or typed. Nothing is "
                "marked while you answer; the summary comes at the end.")
    st.number_input("Questions", min_value=1, max_value=min(MAX_QUESTIONS, len(idx.questions)), value=3, step=1,
                    key="mock-n")
    if error := st.session_state.pop("mock-error", None):
        st.error(escape_md(error))
    st.button("Start the mock interview", key="mock-start", type="primary", icon=":material/record_voice_over:",
              on_click=start, args=(idx, store, learner))


def start(idx, store, learner: str) -> None:
    now, tz = practice.now(), learner_tz()
    try:
        plan = store.plan(learner, [q.id for q in idx.questions], now=now,
                          interview=current_interview(now.astimezone(tz).date()), tz=tz)
        ids = pick_questions(plan, store.weak_questions(learner, now=now), int(st.session_state.get("mock-n", 3)))
        st.session_state[SESSION] = (learner, MockInterview.start(idx, ids, now))
    except (ProgressError, ValueError) as exc:
        st.session_state["mock-error"] = f"Could not start the mock interview: {exc}"


def ask(idx, learner: str, interview: MockInterview) -> None:
    i, part = interview.position
    total = len(interview.steps)
    elapsed = (practice.now() - interview.started).total_seconds()
    st.progress(i / total, text=f"Question {i + 1} of {total}" + ("" if part == MAIN else ", follow-up"))
    st.caption(f"{int(elapsed // 60)}:{int(elapsed % 60):02d} since the interview started · aim for about "
               f"{BUDGET_SECONDS / 60:.0f} minutes an answer")
    with st.container(border=True):
        st.markdown(f"### {escape_md(interview.prompt)}")
        if part != MAIN:
            st.caption("Follow-up on: " + escape_md(interview.steps[i].title))
        key = f"mock-{id(interview)}-{i}-{part}"
        speak.speak_box(idx, interview.checked_against, key)
        speak.speak_problem(key)
        st.text_area("Your answer", key=f"{key}-answer", height=140,
                     placeholder="Record it above (the transcript lands here for you to correct), or type it.")
        if error := st.session_state.pop("mock-error", None):
            st.error(escape_md(error))
        st.button("Submit answer", key=f"{key}-submit", type="primary", icon=":material/send:",
                  on_click=submit, args=(idx, interview, key))
    st.button("End the interview here", key="mock-end", icon=":material/stop_circle:", on_click=end_early,
              args=(interview,))


def submit(idx, interview: MockInterview, key: str) -> None:
    text = practice.clean_answer(st.session_state.get(f"{key}-answer"))
    problem = practice.answer_problem(text)
    if problem:
        st.session_state["mock-error"] = problem
        return
    spoken = speak.spoken_for(key, text)
    question_id = interview.checked_against
    try:
        answer = interview.answer(answer_grader(str(idx.path), idx.version.name), text, at=practice.now(),
                                  delivery=spoken.delivery if spoken else None)
    except (QueryError, ValueError) as exc:
        st.session_state["mock-error"] = str(exc)[:1].upper() + str(exc)[1:] + "."
        return
    speak.keep_in_history(question_id, key, text, answer.grade.coverage, source="mock")


def end_early(interview: MockInterview) -> None:
    """Stop after the answers given so far (none given: back to the start)."""
    if not interview.answers:
        st.session_state.pop(SESSION, None)
        return
    interview.end()


def summary(store, learner: str, interview: MockInterview) -> None:
    rows = interview.summary()
    st.markdown(f"### Mock interview summary: {len(rows)} question{'s' if len(rows) != 1 else ''}")
    for n, row in enumerate(rows, 1):
        with st.container(border=True):
            st.markdown(f"**{n}. {escape_md(row.title)}**")
            st.progress(min(1.0, max(0.0, row.coverage)),
                        text=f"Coverage {row.coverage:.0%}: {row.covered} of {row.points} key points")
            if row.missed:
                st.markdown("Missed: " + "; ".join(escape_md(p) for p in row.missed))
            for mistake in row.mistakes:
                st.warning("Repeated a known mistake: " + escape_md(mistake), icon=":material/report:")
            kind = "common mistakes named" if row.follow_up.kind == "mistakes" else "key points covered"
            result = (f"{row.follow_up_coverage:.0%} of the {kind}" if row.follow_up_coverage is not None
                      else "not answered")
            st.markdown(f"Follow-up: {escape_md(row.follow_up.prompt)} · {result}")
            if row.delivery is not None:
                st.caption(escape_md(" ".join(row.delivery.summary())))
            else:
                st.caption("Typed: no delivery figures.")
            if not st.session_state.get("mock-applied"):
                st.selectbox("Rating to record", practice.RATINGS, index=practice.RATINGS.index(row.rating),
                             key=f"mock-rate-{id(interview)}-{row.question_id}", format_func=str.title,
                             help=f"The check suggests {row.rating.title()}; change it if you judge otherwise.")
    if notice := st.session_state.get("mock-applied"):
        st.success(escape_md(notice), icon=":material/task_alt:")
    else:
        if error := st.session_state.pop("mock-error", None):
            st.error(escape_md(error))
        st.button("Record these ratings", key="mock-apply", type="primary", icon=":material/done_all:",
                  on_click=confirm, args=(store, learner, interview, rows))
    st.button("Start another mock interview", key="mock-again", on_click=reset)


def confirm(store, learner: str, interview: MockInterview, rows) -> None:
    ratings = {row.question_id: st.session_state.get(f"mock-rate-{id(interview)}-{row.question_id}", row.rating)
               for row in rows}
    try:
        apply_ratings(store, learner, ratings, practice.now())
    except ProgressError as exc:
        st.session_state["mock-error"] = f"The ratings were not all recorded: {exc}. Press the button again."
        return
    st.session_state["mock-applied"] = "Recorded: " + "; ".join(f"{r.title} {ratings[r.question_id].title()}"
                                                                 for r in rows)


def reset() -> None:
    for key in (SESSION, "mock-applied", "mock-error"):
        st.session_state.pop(key, None)
