"""The mock interview: questions drawn due and weak first, one follow-up each from the bank, the summary, and the
ratings recorded only once confirmed. rehearse.mock directly, and the Mock interview view through AppTest on the
fake-embedder fixture bank with a fixed clock (the `app` fixture of test_practice_app)."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest

from progress import open_store
from progress.grade import Grader
from rehearse.mock import MISTAKES_PROMPT, MockInterview, follow_up_for, mistake_points, pick_questions
from test_practice_app import NOW, all_text, app, plain  # noqa: F401 (app: a fixture)
from test_progress_store import pg_server  # noqa: F401 (the app fixture's module needs it importable)

IDS = ["k-means", "regularization", "roc-auc"]


def test_questions_come_due_first_then_weak_then_new(app, tmp_path):
    store = open_store(tmp_path / "p.db")
    store.record_review("carol", "roc-auc", "good", now=NOW - timedelta(days=30))  # due long ago
    store.record_review("carol", "k-means", "again", now=NOW - timedelta(minutes=1))  # weak, not yet due
    plan = store.plan("carol", IDS, now=NOW)
    weak = store.weak_questions("carol", now=NOW)
    assert pick_questions(plan, weak, 3) == ["roc-auc", "k-means", "regularization"]
    assert pick_questions(plan, weak, 1) == ["roc-auc"]
    with pytest.raises(ValueError, match="1 to 10 questions"):
        pick_questions(plan, weak, 0)


def test_follow_ups_alternate_related_and_mistakes_and_are_checked_against_the_bank(app):
    idx = app.index
    first = follow_up_for(idx, "regularization", 0, {"regularization"})
    assert first.kind == "related" and first.question_id in IDS and first.question_id != "regularization"
    second = follow_up_for(idx, "regularization", 1, {"regularization"})
    assert second.kind == "mistakes" and second.prompt == MISTAKES_PROMPT and second.question_id == "regularization"
    # every other question already taken: the related kind falls back to the mistakes
    assert follow_up_for(idx, "regularization", 0, set(IDS)).kind == "mistakes"

    grader = Grader(idx)
    interview = MockInterview.start(idx, ["regularization", "roc-auc"], NOW)
    assert interview.prompt == idx.question("regularization").title
    reg = idx.question("regularization")
    interview.answer(grader, reg.section("short").text, at=NOW)
    assert interview.position == (0, "follow-up")
    related = idx.question(interview.steps[0].follow_up.question_id)
    interview.answer(grader, related.section("short").text, at=NOW + timedelta(seconds=90))
    assert interview.prompt == idx.question("roc-auc").title
    interview.answer(grader, "I am not sure what this one is about at all.", at=NOW + timedelta(seconds=120))
    assert interview.prompt == MISTAKES_PROMPT
    # naming the listed mistakes is the right answer to this follow-up, not a mistake repeated
    roc_mistakes = mistake_points(idx.question("roc-auc"))
    interview.answer(grader, ". ".join(roc_mistakes) + ".", at=NOW + timedelta(seconds=200))
    assert interview.done and interview.prompt == ""
    rows = interview.summary()
    assert [r.question_id for r in rows] == ["regularization", "roc-auc"]
    assert rows[0].covered >= 1 and rows[0].coverage > rows[1].coverage == 0.0 and rows[0].follow_up_coverage > 0
    assert rows[1].follow_up.kind == "mistakes" and rows[1].follow_up_coverage == 1.0 and rows[1].mistakes == ()
    assert rows[1].missed and rows[1].rating == "again"
    assert rows[0].seconds == 90.0 and rows[1].seconds == 110.0  # from being asked to the follow-up answered
    with pytest.raises(ValueError, match="over"):
        interview.answer(grader, "one more", at=NOW)


def test_mock_interview_in_the_app_records_ratings_only_when_confirmed(app):
    at = app(learner="dana")
    at.query_params["view"] = "Mock interview"
    at.run()
    assert not at.exception
    at.number_input(key="mock-n").set_value(2)
    at = at.button(key="mock-start").click().run()
    assert not at.exception
    idx = app.index
    for _ in range(4):
        box = next(t for t in at.text_area if t.key.endswith("-answer"))
        heading = next(m.value for m in at.markdown if m.value.startswith("### "))
        title = plain(heading[4:])
        asked = next((q for q in idx.questions if q.title == title), None)
        text = asked.section("short").text if asked else "People forget to standardize features first."
        box.input(text)
        at = next(b for b in at.button if b.key.endswith("-submit")).click().run()
        assert not at.exception
    text = all_text(at)
    assert "Mock interview summary: 2 questions" in text and "Follow-up:" in text
    assert open_store(app.database).count_reviews("dana") == 0  # nothing recorded before the learner confirms
    at = at.button(key="mock-apply").click().run()
    assert not at.exception and "Recorded:" in all_text(at)
    with sqlite3.connect(app.database) as conn:
        rows = conn.execute("SELECT r.source, r.reviewed_at FROM reviews r JOIN learners l ON l.id = r.learner_id "
                            "WHERE l.name = 'dana'").fetchall()
    assert len(rows) == 2 and {r[0] for r in rows} == {"mock"} and {r[1][:19] for r in rows} == {"2026-12-01T09:00:00"}


def test_the_clock_is_fixed_by_mlprep_now(monkeypatch):
    from datetime import datetime, timezone

    from ui import practice as ui_practice

    monkeypatch.setenv("MLPREP_NOW", "2026-12-01T10:00:00+01:00")
    assert ui_practice.now() == datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
    monkeypatch.setenv("MLPREP_NOW", "2026-12-01T09:00:00")  # no offset: UTC
    assert ui_practice.now() == datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
    monkeypatch.setenv("MLPREP_NOW", "next tuesday")
    with pytest.raises(ValueError, match="MLPREP_NOW='next tuesday' is not an ISO time"):
        ui_practice.now()
    monkeypatch.delenv("MLPREP_NOW")
    assert abs((ui_practice.now() - datetime.now(timezone.utc)).total_seconds()) < 5
