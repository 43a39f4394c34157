"""The learner's spoken-answer history (progress/rehearsals.py), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from progress import InvalidQuestionId, open_store
from progress.rehearsals import record_rehearsal, rehearsal_audio, rehearsals

from test_progress_store import database, pg_server  # noqa: F401 (fixtures)

DELIVERY = {"duration_s": 74.2, "words_per_minute": 141.5, "pauses": [{"after": "so", "start_s": 3.0,
                                                                     "seconds": 2.4}],
            "fillers": {"counts": {"um": 2}, "total": 2, "lower_bound": True}}
AT = datetime(2026, 12, 1, 9, 30, tzinfo=timezone.utc)


def test_transcripts_are_kept_per_learner_and_audio_only_when_asked(database):
    store = open_store(database)
    first = record_rehearsal(store, "alice", "overfitting", "It memorizes the noise.", delivery=DELIVERY,
                             score=0.5, now=AT)
    second = record_rehearsal(store, "Alice", "overfitting", "It memorises the noise, fixed.", edited=True,
                              source="mock", audio=b"RIFF....WAVE", audio_type="audio/wav", now=AT)
    record_rehearsal(store, "bob", "overfitting", "Bob's answer.", now=AT)
    mine = rehearsals(store, "alice", "overfitting")
    assert [r.id for r in mine] == [first, second]
    assert mine[0].transcript == "It memorizes the noise." and not mine[0].edited and not mine[0].has_audio
    assert (mine[0].duration_s, mine[0].words_per_minute, mine[0].long_pauses, mine[0].fillers, mine[0].score) == \
        (74.2, 141.5, 1, 2, 0.5)
    assert mine[0].recorded_at == AT and mine[0].source == "app"
    assert mine[1].edited and mine[1].has_audio and mine[1].source == "mock" and mine[1].duration_s is None
    assert rehearsal_audio(store, "alice", second) == (b"RIFF....WAVE", "audio/wav")
    assert rehearsal_audio(store, "alice", first) is None  # not asked to keep it
    assert rehearsal_audio(store, "bob", second) is None  # another learner's recording
    assert [r.transcript for r in rehearsals(store, "bob")] == ["Bob's answer."]
    assert rehearsals(store, "nobody") == []
    store.close()


def test_bad_input_keeps_nothing(database):
    store = open_store(database)
    with pytest.raises(ValueError, match="blank"):
        record_rehearsal(store, "alice", "overfitting", "   ")
    with pytest.raises(InvalidQuestionId):
        record_rehearsal(store, "alice", "../etc/passwd", "text")
    assert rehearsals(store, "alice") == []
    store.close()
