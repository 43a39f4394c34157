"""Practice in the app, flow by flow (streamlit.testing.v1.AppTest on a fake-embedder index of the fixture bank, a
temporary MLPREP_DATABASE per test): check my answer, reveal, rate, the review recorded; learners kept apart; the
interview date changing the plan, with a fixed clock; untrusted input; a database error that loses nothing; the
old practice.json migrated once. Plus the pure helpers of ui/practice.py."""

from __future__ import annotations

import importlib
import json
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from conftest import FakeEmbedder
from index import open_index
from progress import ProgressLocked, ProgressStore, open_store
from progress.grade import LIMITS, MAX_ANSWER_CHARS, VERDICT_RULE, verdict_label
from test_progress_store import _new_pg_database, pg_server  # noqa: F401 (the server: a fixture)
from ui import practice
from ui.render import escape_md

APP = str(Path(__file__).resolve().parent.parent / "app.py")
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)  # the fixed clock of every test here
ANSWER_BOX = "practice-{}-answer"


@pytest.fixture
def app(monkeypatch, fake_index, tmp_path):
    """An AppTest factory over the fixture bank, its clock fixed at NOW, progress in a temporary database."""
    index_dir, content_dir, _ = fake_index
    from index.search import Index

    build_module = importlib.import_module("ingest.build")
    real_build = build_module.build
    monkeypatch.setattr(Index, "_load_embedder", lambda self: FakeEmbedder())
    monkeypatch.setattr(build_module, "build", lambda content, index, model=None, **kw: real_build(
        content, index, embedder=FakeEmbedder(), **kw))
    monkeypatch.setattr(practice, "now", lambda: NOW)
    monkeypatch.setenv("MLPREP_INDEX", str(index_dir))
    monkeypatch.setenv("MLPREP_CONTENT", str(content_dir))
    monkeypatch.setenv("MLPREP_PRACTICE", str(tmp_path / "practice.json"))
    monkeypatch.setenv("MLPREP_DATABASE", str(tmp_path / "progress.db"))
    monkeypatch.delenv("MLPREP_DATABASE_URL", raising=False)

    def make(**params) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=60)
        at.query_params["view"] = "Practice"
        for key, value in params.items():
            at.query_params[key] = value
        return at

    make.database = tmp_path / "progress.db"
    make.practice = tmp_path / "practice.json"
    make.index = open_index(index_dir, check_stale=False)
    return make


def plain(text: str) -> str:
    """Escaped Markdown as a reader sees it (escape_md puts a backslash before punctuation)."""
    return re.sub(r"\\(.)", r"\1", text)


def current_question(at, idx):
    """The question the Practice card shows (its title is the card's only level-3 heading)."""
    titles = [m.value[4:] for m in at.markdown if m.value.startswith("### ")]
    assert len(titles) == 1, titles
    return next(q for q in idx.questions if escape_md(q.title) == titles[0])


def summary_line(at) -> str:
    return plain(next(m.value for m in at.markdown if m.value.startswith("Practising as")))


def answer(at, qid: str, text: str) -> AppTest:
    at.text_area(key=ANSWER_BOX.format(qid)).input(text)
    return at.button(key=f"practice-{qid}-check").click().run()


def short_answer(question) -> str:
    return question.section("short").text


def all_text(at) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [w.value for w in at.warning]
    parts += [e.value for e in at.error] + [s.value for s in at.success] + [i.value for i in at.info]
    return plain("\n".join(parts))


# --------------------------------------------------------------------------- check my answer
def test_check_my_answer_marks_points_with_evidence_verdict_and_limits(app):
    at = app(learner="alice").run()
    assert not at.exception
    q = current_question(at, app.index)
    at = answer(at, q.id, short_answer(q) + " Honestly I am not sure about the rest.")
    assert not at.exception
    badges = [m.value for m in at.markdown if "-badge[" in m.value]
    assert any(b.startswith(":green-badge[:material/check: covered]") for b in badges)
    assert len(badges) >= 2, "every key point is listed, covered or missed"
    evidence = [c.value for c in at.caption if c.value.startswith("Your words:")]
    assert evidence and escape_md(short_answer(q)[:30]) in evidence[0], "the part of the answer that covers it"
    assert any("Coverage" in p.proto.text for p in at.get("progress"))
    assert any(escape_md(LIMITS) in c.value for c in at.caption), "what the check can and cannot judge"
    verdict = [*at.success, *at.warning, *at.error]
    assert any(v.value.replace("\\", "").split(":")[0] in ("Strong", "Good", "Partial", "Not yet") for v in verdict)
    # the figure is the share of points covered, and the verdict follows it, by the rule shown beneath it
    bar = next(p.proto.text for p in at.get("progress") if "Coverage" in p.proto.text)
    shown, covered, total = re.match(r"Coverage (\d+)%: (\d+) of (\d+) key points? covered", bar).groups()
    assert int(covered) == sum(b.startswith(":green-badge") for b in badges) and int(total) == len(badges)
    assert int(shown) == round(100 * int(covered) / int(total))
    label = verdict_label(int(covered) / int(total))
    assert any(plain(v.value).startswith(f"{label}: covers {covered} of {total}") for v in verdict)
    assert any(escape_md(VERDICT_RULE) in c.value for c in at.caption)


def test_missed_points_are_listed_to_read_next(app):
    at = app(learner="alice").run()
    q = current_question(at, app.index)
    at = answer(at, q.id, "I would talk about something else entirely, like databases and networking.")
    assert not at.exception
    assert any(m.value.startswith(":red-badge[:material/close: missed]") for m in at.markdown)
    assert "**Read next**" in all_text(at)


# --------------------------------------------------------------------------- reveal, rate, record
def test_check_reveal_and_the_confirmed_rating_is_recorded(app):
    at = app(learner="alice").run()
    q = current_question(at, app.index)
    at = answer(at, q.id, short_answer(q))
    at.button(key="reveal").click().run()
    assert "**The model answer**" in all_text(at)
    assert q.section("explanation").text in all_text(at)
    rate = {r: at.button(key=f"rate-{r}") for r in practice.RATINGS}
    primary = [r for r, b in rate.items() if b.proto.type == "primary"]
    assert len(primary) == 1, "the check's suggestion is highlighted, one button only"
    assert f"The check suggests **{primary[0].title()}**" in all_text(at)
    assert open_store(app.database).count_reviews("alice") == 0, "nothing is recorded before the learner confirms"

    at.button(key="rate-good").click().run()
    assert not at.exception
    reviews = open_store(app.database).reviews("alice")
    assert [(r.question_id, r.rating.name, r.source) for r in reviews] == [(q.id, "Good", "app")]
    assert reviews[0].reviewed_at == NOW
    assert any("Recorded Good" in plain(s.value) for s in at.success)
    assert current_question(at, app.index).id != q.id, "the plan moves on to the next question"


def test_a_database_error_keeps_the_answer_and_a_retry_records_it(app, monkeypatch):
    at = app(learner="alice").run()
    q = current_question(at, app.index)
    at = answer(at, q.id, short_answer(q))
    at.button(key="reveal").click().run()
    real = ProgressStore.record_review

    def locked(self, *args, **kwargs):
        raise ProgressLocked(str(app.database), 10.0)

    monkeypatch.setattr(ProgressStore, "record_review", locked)
    at.button(key="rate-hard").click().run()
    assert not at.exception
    assert any("not recorded" in plain(e.value) and "stayed locked" in plain(e.value) for e in at.error)
    assert at.text_area(key=ANSWER_BOX.format(q.id)).value == short_answer(q), "the typed answer is kept"
    assert current_question(at, app.index).id == q.id
    assert open_store(app.database).count_reviews("alice") == 0

    monkeypatch.setattr(ProgressStore, "record_review", real)
    at.button(key="rate-hard").click().run()
    assert [r.rating.name for r in open_store(app.database).reviews("alice")] == ["Hard"]
    assert not at.error


def test_unusable_database_is_a_message_and_search_still_works(app, monkeypatch, tmp_path):
    (tmp_path / "not-a-db").write_bytes(b"this is not a database" * 100)
    monkeypatch.setenv("MLPREP_DATABASE", str(tmp_path / "not-a-db"))
    at = app(learner="alice").run()
    assert not at.exception
    assert any("Practice progress is unavailable" in plain(e.value) and "damaged" in plain(e.value) for e in at.error)
    at.query_params.clear()
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["q"] = "roc auc"
    at.run()
    assert not at.exception and any(m.value.startswith("#### ") for m in at.markdown)


def test_searching_never_opens_the_progress_database(app):
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["q"] = "roc auc"
    at.run()
    assert not at.exception
    assert any(escape_md(str(app.database)) in c.value for c in at.sidebar.caption), "the sidebar names it"
    assert not app.database.exists()


def test_reviews_go_to_postgresql_when_the_url_is_set(app, monkeypatch, request):
    url = _new_pg_database(request.getfixturevalue("pg_server"))  # skipped, with the reason, without PostgreSQL
    monkeypatch.setenv("MLPREP_DATABASE_URL", url)
    at = app(learner="alice").run()
    q = current_question(at, app.index)
    at.button(key="reveal").click().run()
    at.button(key="rate-easy").click().run()
    assert not at.exception
    assert [(r.question_id, r.rating.name) for r in open_store(url).reviews("alice")] == [(q.id, "Easy")]
    assert open_store(app.database).count_reviews() == 0, "MLPREP_DATABASE_URL wins over MLPREP_DATABASE"
    assert any("Progress kept in postgresql://" in plain(c.value) for c in at.sidebar.caption)


# --------------------------------------------------------------------------- learners
def test_two_learners_see_only_their_own_progress(app):
    alice = app(learner="alice").run()
    q = current_question(alice, app.index)
    alice.button(key="reveal").click().run()
    alice.button(key="rate-again").click().run()
    assert "**Weak so far**" in all_text(alice)

    bob = app(learner="Bob").run()
    assert not bob.exception
    assert "Practising as **Bob**" in summary_line(bob)
    assert "New 3 · Learning 0 · Review 0" in summary_line(bob)
    assert current_question(bob, app.index).id == q.id, "Bob has not practised it: it is still his first new one"
    assert "**Weak so far**" not in all_text(bob)
    store = open_store(app.database)
    assert store.count_reviews("bob") == 0 and store.count_reviews("alice") == 1

    again = app(learner="ALICE").run()  # names differing only in case are one learner
    assert "New 2 · Learning 1 · Review 0" in summary_line(again)


@pytest.mark.parametrize("name", ["<script>alert(1)</script>", "x" * 41, "-dash-first", "tab\there"])
def test_a_bad_learner_name_shows_the_rule_never_a_traceback(app, name):
    at = app(learner=name).run()
    assert not at.exception
    errors = plain(" ".join(e.value for e in at.error))
    assert "learner name" in errors and "letters, digits" in errors
    assert not any(m.value.startswith("### ") for m in at.markdown), "no practice under a refused name"
    assert open_store(app.database).learners() == []


# --------------------------------------------------------------------------- interview date
def test_interview_date_changes_the_counts_and_matches_the_plan(app):
    store = open_store(app.database)
    ids = [q.id for q in app.index.questions]
    store.record_review("carol", ids[0], "good", now=NOW - timedelta(days=3))

    without = app(learner="carol").run()
    assert not without.exception
    plain = store.plan("carol", ids, now=NOW)
    assert practice.plan_summary(plain) in summary_line(without)
    assert "left before your interview" not in summary_line(without)

    for days in (2, 30):
        day = (NOW + timedelta(days=days)).date()
        at = app(learner="carol", interview=day.isoformat()).run()
        assert not at.exception
        expected = store.plan("carol", ids, now=NOW, interview=day)
        line = summary_line(at)
        assert f"{expected.left_before_interview} reviews left before your interview" in line
        assert f"({expected.days_left} practice days" in line
        assert at.sidebar.date_input(key="interview").value == day
    near = store.plan("carol", ids, now=NOW, interview=(NOW + timedelta(days=2)).date())
    far = store.plan("carol", ids, now=NOW, interview=(NOW + timedelta(days=30)).date())
    assert near.counts == far.counts, "a date changes the plan, never what the learner has"
    assert (near.new_today, near.left_before_interview) != (far.new_today, far.left_before_interview)


def test_picking_the_date_in_the_sidebar_changes_the_plan(app):
    at = app(learner="dave").run()
    assert "left before your interview" not in summary_line(at)
    day = (NOW + timedelta(days=10)).date()
    at.sidebar.date_input(key="interview").set_value(day).run()
    assert not at.exception
    expected = open_store(app.database).plan("dave", [q.id for q in app.index.questions], now=NOW, interview=day)
    assert f"{expected.left_before_interview} reviews left before your interview on" in summary_line(at)


def test_the_queue_is_due_first_then_new(app, monkeypatch):
    at = app(learner="erin").run()
    first = current_question(at, app.index)
    at.button(key="reveal").click().run()
    at.button(key="rate-again").click().run()  # FSRS brings it back after a 1-minute learning step
    second = current_question(at, app.index)
    assert second.id != first.id, "while the first is not yet due again, a new one comes"
    assert "Recorded Again" in all_text(at) and "next review in 1 minute" in all_text(at)
    monkeypatch.setattr(practice, "now", lambda: NOW + timedelta(minutes=5))
    at.button(key="reveal").click().run()
    at.button(key="rate-good").click().run()
    assert current_question(at, app.index).id == first.id, "a due card comes before the new ones"
    assert "Due now" in all_text(at)


@pytest.mark.parametrize("raw, says", [("garbage", "not a day written as YYYY-MM-DD"),
                                       ("2026-02-30", "not a day"), ("2020-01-01", "has passed")])
def test_a_bad_interview_date_in_the_link_is_a_warning(app, raw, says):
    at = app(learner="alice", interview=raw).run()
    assert not at.exception
    assert any(says in plain(w.value) for w in at.sidebar.warning)
    assert at.sidebar.date_input(key="interview").value is None
    assert "left before your interview" not in summary_line(at)


# --------------------------------------------------------------------------- untrusted answers
@pytest.mark.parametrize("text, says", [
    ("", "Type or paste what you would say first"),
    ("   \n\t ", "Type or paste what you would say first"),
    ("x" * (MAX_ANSWER_CHARS + 1), "characters long"),
    ("\u200b\u202e\x00🙂🙂 ?!", "no words in it"),
])
def test_answers_that_cannot_be_checked_get_a_clear_word(app, text, says):
    at = app(learner="alice").run()
    q = current_question(at, app.index)
    at = answer(at, q.id, text)
    assert not at.exception
    assert any(says in plain(w.value) for w in at.warning)
    assert not any("-badge[" in m.value for m in at.markdown)


def test_odd_unicode_around_real_words_is_checked(app):
    at = app(learner="alice").run()
    q = current_question(at, app.index)
    odd = "\u202e\ufeff" + short_answer(q).replace(" ", " \u200b", 3) + " \x00\x07 😀 naïve ﬁ"
    at = answer(at, q.id, odd)
    assert not at.exception
    assert any(m.value.startswith(":green-badge[") for m in at.markdown)
    shown = " ".join(c.value for c in at.caption if c.value.startswith("Your words:"))
    assert "\u200b" not in shown and "\x00" not in shown and "\u202e" not in shown


# --------------------------------------------------------------------------- the question page, Anki, migration
def test_the_question_page_has_the_same_answer_check(app):
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["open"] = "roc-auc"
    at.run()
    q = app.index.question("roc-auc")
    at.text_area(key="page-roc-auc-answer").input(short_answer(q))
    at.button(key="page-roc-auc-check").click().run()
    assert not at.exception
    assert any(m.value.startswith(":green-badge[:material/check: covered]") for m in at.markdown)
    assert any(escape_md(LIMITS) in c.value for c in at.caption)


def test_anki_downloads_offer_the_bank_and_then_the_weak_questions(app):
    at = app(learner="alice").run()
    labels = [d.proto.label for d in at.get("download_button")]
    assert labels == ["Download the bank (3 questions)"]
    at.button(key="reveal").click().run()
    at.button(key="rate-again").click().run()
    labels = [d.proto.label for d in at.get("download_button")]
    assert labels == ["Download the bank (3 questions)", "Download my weak questions (1)"]


def test_the_old_practice_json_is_migrated_once_into_the_default_learner(app):
    ids = [q.id for q in app.index.questions]
    app.practice.write_text(json.dumps({"version": 1, "questions": {
        ids[1]: {"knew": 0, "shaky": 2, "last": "shaky", "at": (NOW - timedelta(days=1)).timestamp()}}}))
    at = app().run()  # no learner: the shared default one, which the old tally belongs to
    assert not at.exception
    assert "Practising as **default**" in summary_line(at)
    assert any("imported once" in c.value for c in at.caption)
    store = open_store(app.database)
    assert [r.rating.name for r in store.reviews("default")] == ["Again", "Again"]
    assert store.import_practice_json(app.practice).imported is False, "never twice"
    assert current_question(at, app.index).id == ids[1], "the shaky question is due first"


# --------------------------------------------------------------------------- pure helpers
def test_learner_from_defaults_and_refuses_with_the_rule():
    assert practice.learner_from(None) == ("default", None)
    assert practice.learner_from("  ") == ("default", None)
    assert practice.learner_from("  Zoë   Ng ") == ("Zoë Ng", None)
    name, problem = practice.learner_from("a/b")
    assert name is None and problem.startswith("The learner name has characters that are not allowed")


def test_interview_from_accepts_a_coming_day_only():
    today = date(2026, 12, 1)
    assert practice.interview_from(None, today) == (None, None)
    assert practice.interview_from("2026-12-15", today) == (date(2026, 12, 15), None)
    assert practice.interview_from("2026-12-01", today) == (date(2026, 12, 1), None)
    assert "has passed" in practice.interview_from("2026-11-30", today)[1]
    assert "five years" in practice.interview_from("2040-01-01", today)[1]
    assert "YYYY-MM-DD" in practice.interview_from("15/12/2026", today)[1]
    assert len(practice.interview_from("9" * 10_000, today)[1]) < 300, "a long value is cut in the message"


@pytest.mark.parametrize("name", [None, "", "../../etc/passwd", "/etc/localtime", "Not/AZone", "x" * 300, "UTC\x00"])
def test_an_odd_browser_time_zone_is_utc(name):
    assert practice.learner_zone(name) == timezone.utc


def test_a_real_browser_time_zone_is_used():
    assert str(practice.learner_zone("Europe/Paris")) == "Europe/Paris"


def test_clean_answer_and_answer_problem():
    assert practice.clean_answer("caf\u0065\u0301 \u200bok\x00\n line") == "café ok\n line"
    assert practice.answer_problem(practice.clean_answer("\u200b\x00")) is not None
    assert practice.answer_problem("a" * MAX_ANSWER_CHARS) is None
    assert "characters long" in practice.answer_problem("a" * (MAX_ANSWER_CHARS + 1))
    assert practice.answer_problem("real words") is None


def test_plan_summary_when_text_and_deck_file_name(tmp_path):
    store = open_store(tmp_path / "p.db")
    ids = ["a-question", "b-question"]
    plain = store.plan("x", ids, now=NOW)
    assert practice.plan_summary(plain) == "New 2 · Learning 0 · Review 0; 2 new questions planned today."
    dated = store.plan("x", ids, now=NOW, interview=date(2026, 12, 11))
    assert practice.plan_summary(dated).startswith(
        f"New 2 · Learning 0 · Review 0; {dated.new_today} new question planned today; "
        f"{dated.left_before_interview} reviews left before your interview on "
        "Friday 11 December 2026 (10 practice days")
    assert practice.when_text(NOW + timedelta(minutes=10), NOW, timezone.utc) == "in 10 minutes"
    assert practice.when_text(NOW + timedelta(days=1), NOW, timezone.utc) == "tomorrow"
    assert practice.when_text(NOW + timedelta(days=4), NOW, timezone.utc) == "on Saturday 5 December 2026"
    assert practice.deck_file_name("Zoë Ng") == "ml-interview-prep-weak-zo-ng.apkg"
    assert practice.deck_file_name("李") == "ml-interview-prep-weak.apkg"
