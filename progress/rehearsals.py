"""The learner's spoken answers: each rehearsal's transcript, its delivery figures and, only on request, the audio.

    from progress.rehearsals import record_rehearsal, rehearsals
    record_rehearsal(store, "alice", "overfitting", transcript, delivery={"duration_s": 74.2, ...}, score=0.62)
    rehearsals(store, "alice", "overfitting")     # oldest first, without the audio

The table is created by the progress database's migration 3 (progress/schema.py, which owns the format; the DDL
is here beside the code that reads and writes it). Like the review log, rows are appended, never changed. The
recording is stored only when the learner ticks "keep my recording" (`audio` given); otherwise only the text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from . import schedule

if TYPE_CHECKING:
    from .store import ProgressStore

MAX_TRANSCRIPT_CHARS = 20_000
MAX_AUDIO_BYTES = 64 * 2**20  # rehearse.transcribe refuses larger recordings before this


def schema(types: dict[str, str]) -> tuple[str, ...]:
    """The rehearsals table and its index, for migration 3, in a dialect's column types (schema.column_types)."""
    pk, ref, ts, real, blob = (types[k] for k in ("pk", "ref", "ts", "real", "blob"))
    return (
        f"CREATE TABLE rehearsals (id {pk}, learner_id {ref} NOT NULL REFERENCES learners(id), "
        f"question_id TEXT NOT NULL, recorded_at {ts} NOT NULL, source TEXT NOT NULL, transcript TEXT NOT NULL, "
        f"edited INTEGER NOT NULL CHECK (edited IN (0, 1)), duration_s {real}, words_per_minute {real}, "
        f"long_pauses INTEGER, fillers INTEGER, score {real}, audio {blob}, audio_type TEXT)",
        "CREATE INDEX rehearsals_by_question ON rehearsals (learner_id, question_id, id)",
    )


@dataclass(frozen=True)
class Rehearsal:
    """One spoken answer as the learner's history keeps it."""

    id: int
    question_id: str
    recorded_at: datetime
    source: str  # "app" (a question's page or Practice), "mock" (a mock interview), "cli"
    transcript: str  # as checked: Whisper's, or the learner's correction of it
    edited: bool  # the learner corrected the transcript before the check
    duration_s: float | None
    words_per_minute: float | None
    long_pauses: int | None
    fillers: int | None  # a lower bound
    score: float | None  # the answer check's coverage, when it ran
    has_audio: bool


def record_rehearsal(store: ProgressStore, learner: str, question_id: str, transcript: str, *,
                     delivery: dict | None = None, edited: bool = False, score: float | None = None,
                     source: str = "app", audio: bytes | None = None, audio_type: str | None = None,
                     now: datetime | None = None) -> int:
    """Append one spoken answer to the learner's history; returns its id.

    Args:
        delivery: `rehearse.transcribe.Delivery.to_json()` (duration_s, words_per_minute, pauses, fillers).
        audio: the recording's bytes, only when the learner asked to keep it; `audio_type` its MIME type.
    Raises InvalidLearner, InvalidQuestionId, ValueError (blank or overlong transcript, recording too large),
    and the store's ProgressError subclasses.
    """
    from .schema import learner_name, question_id as _question_id

    name = learner_name(learner)
    question_id = _question_id(question_id)
    if not isinstance(transcript, str) or not transcript.strip():
        raise ValueError("the transcript is blank: nothing to keep")
    if len(transcript) > MAX_TRANSCRIPT_CHARS:
        raise ValueError(f"the transcript is {len(transcript):,} characters, more than {MAX_TRANSCRIPT_CHARS:,}")
    if audio is not None and len(audio) > MAX_AUDIO_BYTES:
        raise ValueError(f"the recording is {len(audio) / 2**20:.0f} MiB, more than {MAX_AUDIO_BYTES // 2**20} MiB")
    d = delivery or {}
    pauses, fillers = d.get("pauses"), d.get("fillers")
    at = schedule.utc(now) if now is not None else datetime.now(timezone.utc)
    with store._write() as cur:
        learner_id = store._ensure_learner(cur, name)
        store._exec(cur, "INSERT INTO rehearsals (learner_id, question_id, recorded_at, source, transcript, edited, "
                         "duration_s, words_per_minute, long_pauses, fillers, score, audio, audio_type) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (learner_id, question_id, store._backend.encode_time(at), source, transcript, int(edited),
                     d.get("duration_s"), d.get("words_per_minute"),
                     len(pauses) if pauses is not None else None,
                     fillers.get("total") if isinstance(fillers, dict) else None, score,
                     audio if audio is not None else None, audio_type if audio is not None else None))
        row = store._exec(cur, "SELECT MAX(id) FROM rehearsals WHERE learner_id = ?", (learner_id,)).fetchone()
    return int(row[0])


def rehearsals(store: ProgressStore, learner: str, question_id: str | None = None) -> list[Rehearsal]:
    """The learner's spoken answers (optionally one question's), oldest first. An unknown learner has none."""
    from .schema import learner_name, question_id as _question_id

    where, params = "l.name_key = ?", (learner_name(learner).casefold(),)
    if question_id is not None:
        where, params = where + " AND r.question_id = ?", params + (_question_id(question_id),)
    with store._read() as cur:
        rows = store._exec(cur, "SELECT r.id, r.question_id, r.recorded_at, r.source, r.transcript, r.edited, "
                                "r.duration_s, r.words_per_minute, r.long_pauses, r.fillers, r.score, "
                                "r.audio IS NOT NULL FROM rehearsals r JOIN learners l ON l.id = r.learner_id "
                                f"WHERE {where} ORDER BY r.id", params).fetchall()
    return [Rehearsal(int(i), q, store._backend.decode_time(at), src, text, bool(edited), dur, wpm, pauses, fillers,
                      score, bool(has_audio))
            for i, q, at, src, text, edited, dur, wpm, pauses, fillers, score, has_audio in rows]


def rehearsal_audio(store: ProgressStore, learner: str, rehearsal_id: int) -> tuple[bytes, str] | None:
    """A kept recording and its MIME type, if this learner's rehearsal has one (another learner's: None)."""
    from .schema import learner_name

    with store._read() as cur:
        row = store._exec(cur, "SELECT r.audio, r.audio_type FROM rehearsals r JOIN learners l "
                               "ON l.id = r.learner_id WHERE l.name_key = ? AND r.id = ? AND r.audio IS NOT NULL",
                          (learner_name(learner).casefold(), int(rehearsal_id))).fetchone()
    return (bytes(row[0]), row[1] or "audio/wav") if row else None
