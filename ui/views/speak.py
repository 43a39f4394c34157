"""Say it out loud: record an answer in the browser (`st.audio_input`, 16 kHz), transcribe it on the server
(`rehearse.transcribe`, Whisper base offline), put the transcript in the answer box for the learner to correct,
and show the delivery (length, pace, long pauses, fillers) beside the content check.

The recording lives only in the browser widget and this run's memory; it is written to the learner's history
(progress/rehearsals.py) only when "Keep my recording" is ticked. Transcripts always go to the history.
"""

from __future__ import annotations

import streamlit as st

from index import SearchToolError
from progress import ProgressError
from progress.rehearsals import record_rehearsal, rehearsals
from rehearse.transcribe import BUDGET_SECONDS, FILLER_RULE, SAMPLE_RATE, WPM_BAND, RecordingError

from .. import practice
from ..render import escape_md
from ..mode import error_detail
from ..resources import Paths


@st.cache_resource(show_spinner="Loading the speech model…")
def transcriber():
    """Whisper base, loaded once per server process (rehearse/model.py checks its files)."""
    from rehearse.transcribe import Transcriber

    return Transcriber()


def speak_box(idx, question_id: str, key: str) -> bool:
    """The recorder for the answer box `key`. A new recording is transcribed into `{key}-answer` (so it must be
    drawn before that box) and its delivery kept in `{key}-spoken`. Returns True when this run heard a new one."""
    audio = st.audio_input("Say your answer out loud", sample_rate=SAMPLE_RATE, key=f"{key}-audio",
                           help="Recorded in your browser and transcribed on this server, offline. The recording "
                                "is not kept unless you tick “Keep my recording”.")
    st.checkbox("Keep my recording", key=f"{key}-keep", value=False,
                help="Store this recording with the transcript in your history. Unticked, only the text is kept.")
    if audio is None:  # no recording (or it was deleted): what the box holds is typed
        for suffix in ("heard", "spoken", "speak-problem"):
            st.session_state.pop(f"{key}-{suffix}", None)
        return False
    if st.session_state.get(f"{key}-heard") == audio.file_id:
        return False
    st.session_state[f"{key}-heard"] = audio.file_id
    data = audio.getvalue()
    try:
        with st.spinner("Transcribing your answer…"):
            spoken = transcriber().transcribe(data)
    except RecordingError as exc:
        st.session_state[f"{key}-spoken"] = None
        st.session_state[f"{key}-speak-problem"] = str(exc)[:1].upper() + str(exc)[1:] + "."
        return False
    except SearchToolError as exc:  # the speech model's files are missing or altered: the message names the fix
        st.session_state[f"{key}-spoken"] = None
        st.session_state[f"{key}-speak-problem"] = ("Speech is unavailable on this server: "
                                                    + error_detail(exc, "loading the speech model"))
        return False
    st.session_state.pop(f"{key}-speak-problem", None)
    keep = bool(st.session_state.get(f"{key}-keep"))
    st.session_state[f"{key}-spoken"] = (spoken, data if keep else None, audio.type or "audio/wav")
    st.session_state[f"{key}-answer"] = spoken.text
    return True


def speak_problem(key: str) -> None:
    """Say why the last recording could not be used, if it could not."""
    if problem := st.session_state.get(f"{key}-speak-problem"):
        st.warning(escape_md(problem), icon=":material/mic_off:")


def spoken_for(key: str, text: str):
    """The Spoken of box `key` when its answer is still the transcript or an edit of it, else None."""
    held = st.session_state.get(f"{key}-spoken")
    return held[0] if held and text.strip() else None


def keep_in_history(question_id: str, key: str, text: str, score: float | None, source: str = "app") -> None:
    """Append the checked transcript (and the recording, if asked, once) to the learner's history."""
    held = st.session_state.get(f"{key}-spoken")
    if not held:
        return
    spoken, audio, audio_type = held
    from .practice import current_learner, open_progress

    learner, problem = current_learner()
    if problem:
        st.session_state[f"{key}-history-problem"] = "Not kept in your history: " + problem
        return
    opened = open_progress(Paths.from_env())
    if opened is None:
        return
    try:
        record_rehearsal(opened[0], learner, question_id, text, delivery=spoken.delivery.to_json(),
                         edited=text.strip() != spoken.text.strip(), score=score, source=source, audio=audio,
                         audio_type=audio_type if audio else None, now=practice.now())
    except (ProgressError, ValueError) as exc:
        st.session_state[f"{key}-history-problem"] = ("Not kept in your history: "
                                                      + error_detail(exc, "keeping a transcript"))
        return
    st.session_state[f"{key}-spoken"] = (spoken, None, audio_type)  # the recording is stored once
    st.session_state.pop(f"{key}-history-problem", None)


def show_delivery(delivery) -> None:
    """The delivery figures: length against the budget, pace against the band, long pauses, fillers."""
    st.markdown("**Delivery**")
    minutes, seconds = divmod(round(delivery.duration_s), 60)
    low, high = WPM_BAND
    a, b = st.columns(2)
    a.metric("Length", f"{minutes}:{seconds:02d}", help=f"Budget: about {BUDGET_SECONDS / 60:.0f} minutes",
             delta="over budget" if delivery.over_budget else "within budget",
             delta_color="inverse" if delivery.over_budget else "off", delta_arrow="off")
    b.metric("Words a minute", f"{delivery.words_per_minute:.0f}", help=f"{low}-{high} is clear and unhurried",
             delta=delivery.pace, delta_color="off", delta_arrow="off")
    for line in delivery.summary():
        st.markdown("- " + escape_md(line))
    st.caption(escape_md(FILLER_RULE))


def history(question_id: str, key: str, limit: int = 3) -> None:
    """The learner's last spoken answers to this question, newest first (text only), or why this one was not
    kept."""
    from .practice import current_learner, open_progress

    if problem := st.session_state.get(f"{key}-history-problem"):
        st.caption(escape_md(problem))

    learner, problem = current_learner()
    if problem:
        return
    opened = open_progress(Paths.from_env())
    if opened is None:
        return
    try:
        past = rehearsals(opened[0], learner, question_id)
    except ProgressError:
        return
    if not past:
        return
    with st.expander(f"Your spoken answers to this question ({len(past)})", key=f"spoken-history-{question_id}"):
        for r in reversed(past[-limit:]):
            figures = []
            if r.duration_s is not None:
                figures.append(f"{r.duration_s:.0f} s")
            if r.words_per_minute is not None:
                figures.append(f"{r.words_per_minute:.0f} wpm")
            if r.score is not None:
                figures.append(f"coverage {r.score:.0%}")
            st.caption(escape_md(f"{r.recorded_at:%Y-%m-%d %H:%M} UTC · " + " · ".join(figures)
                                 + (" · corrected" if r.edited else "") + (" · recording kept" if r.has_audio else "")))
            st.markdown(escape_md(r.transcript))
