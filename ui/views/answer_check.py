"""Check my answer: a box for the candidate's own answer (typed, or spoken and transcribed by ui/views/speak.py), a
button that grades it against the model answer (`progress.grade`), and the result: each key point covered or missed
with the words that cover it, the coverage figure and verdict, known mistakes repeated, what to read next, what the
check cannot judge, and for a spoken answer its delivery beside it. Used by the Practice view and by a question's
own page."""

from __future__ import annotations

import time

import streamlit as st

from index import SearchToolError
from progress.grade import LIMITS, VERDICT_RULE

from .. import keys, practice
from ..render import escape_md
from ..resources import answer_grader
from . import speak

VERDICT_BOX = {"Strong": st.success, "Good": st.success, "Partial": st.warning}  # else st.error


def answer_box(idx, question_id: str, key: str):
    """The answer box, its button and, once checked, the result. Returns the Grade of the answer as it was last
    checked (None before a check or after an answer that could not be checked); `key` keeps two boxes apart."""
    if speak.speak_box(idx, question_id, key):  # a new recording: its transcript is now in the box, checked at once
        check(idx, question_id, key)
    speak.speak_problem(key)
    st.text_area("Your answer", key=f"{key}-answer", height=140,
                 placeholder="Record it above (the transcript lands here for you to correct), or type it: what "
                             "would you answer?")
    st.button("Check my answer", key=f"{key}-check", type="primary", icon=":material/fact_check:",
              on_click=check, args=(idx, question_id, key), help=keys.HINT_BEFORE)
    outcome = st.session_state.get(f"{key}-grade")
    if not outcome:
        return None
    checked_text, grade, problem, seconds = outcome
    if problem:
        st.warning(escape_md(problem))
        return None
    if practice.clean_answer(st.session_state.get(f"{key}-answer")) != checked_text:
        st.caption("You changed your answer since it was checked: check it again to update the result.")
    spoken = speak.spoken_for(key, checked_text)
    if spoken is None:
        show_grade(grade)
    else:  # the delivery beside the content (stacked on a phone)
        content, delivery = st.columns([3, 2], gap="medium")
        with content:
            show_grade(grade)
        with delivery:
            speak.show_delivery(spoken.delivery)
    st.caption(f"Checked in {seconds * 1000:.0f} ms on the server.")
    if spoken is not None:
        speak.history(question_id, key)
    return grade


def check(idx, question_id: str, key: str) -> None:
    """The button's callback: grade the answer in the box, or keep the one sentence that says why it cannot be."""
    text = practice.clean_answer(st.session_state.get(f"{key}-answer"))
    problem = practice.answer_problem(text)
    grade, started = None, time.perf_counter()
    if problem is None:
        try:
            grade = answer_grader(str(idx.path), idx.version.name).grade(question_id, text)
        except SearchToolError as exc:  # QueryError (blank, too long) or UnknownQuestion: messages for a user
            problem = str(exc)[:1].upper() + str(exc)[1:] + "."
    st.session_state[f"{key}-grade"] = (text, grade, problem, time.perf_counter() - started)
    if grade is not None:
        speak.keep_in_history(question_id, key, text, grade.coverage)


def show_grade(grade) -> None:
    """The result of a check, point by point, then the verdict, the mistakes repeated, what to read next and the
    check's limits. Every text comes from the bank or the answer, so all of it is escaped."""
    covered, total = len(grade.covered), len(grade.points)
    st.markdown("**Key points of the model answer**")
    for point in grade.points:
        if point.covered:
            st.markdown(f":green-badge[:material/check: covered] {escape_md(point.text)}")
            st.caption(f"Your words: “{escape_md(point.evidence)}”")
        else:
            st.markdown(f":red-badge[:material/close: missed] {escape_md(point.text)}")
    # the figure is the share of points covered, and the verdict follows it (VERDICT_RULE, shown beneath)
    st.progress(grade.coverage,
                text=f"Coverage {grade.coverage:.0%}: {covered} of {total} key point{'s' if total != 1 else ''} covered")
    # the verdict's own list of missed points is left out: "Read next" below lists every one of them
    verdict = grade.verdict.split(" Missed: ", 1)[0]
    box = st.warning if grade.misconceptions else VERDICT_BOX.get(grade.label, st.error)
    box(escape_md(verdict))
    st.caption(escape_md(VERDICT_RULE))
    for mistake in grade.misconceptions:
        st.warning(f"“{escape_md(mistake.evidence)}” sounds like a known mistake: {escape_md(mistake.mistake)}",
                   icon=":material/report:")
    if grade.missed:
        st.markdown("**Read next**: the points you missed, in the model answer's Short answer and Explanation")
        st.markdown("\n".join(f"- {escape_md(p.text)}" for p in grade.missed))
    st.caption(f"What the check can and cannot judge: {escape_md(LIMITS)}")
