"""The Progress view, the daily time budget, "practise these", the weak-only revision sheet, the topic map coloured
by readiness, changing the learner without the sidebar and the fixed clock (AppTest over the fixture bank, a
temporary database per test, the clock fixed at NOW). Plus the chart builders' text alternatives (ui/charts.py)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from progress import open_store
from progress.stats import ForecastDay, TopicReadiness
from test_practice_app import NOW, all_text, app, plain, summary_line  # noqa: F401 (app: a fixture)
from ui import charts, keys, practice


def progress_page(app, **params):
    at = app(**params)
    at.query_params["view"] = "Progress"
    return at.run()


def captions(at) -> str:
    return plain(" ".join(c.value for c in at.caption))


def test_a_new_learner_sees_counts_charts_and_their_figures_as_text(app):
    at = progress_page(app, learner="nina")
    assert not at.exception
    text = plain(all_text(at))
    assert "New 3 · Learning 0 · Review 0" in text
    assert len(at.get("vega_lite_chart")) == 3  # readiness, planned each day, the calendar
    said = captions(at)
    assert "Readiness per topic, weakest first:" in said and "0%" in said
    assert "question-days planned over 14 days" in said
    assert "No reviews in the last 16 weeks" in said
    assert "True retention:** not yet measured" in all_text(at)
    assert "Set an interview date" in said


def test_the_budget_is_stored_with_the_learner_and_says_what_fits(app):
    at = progress_page(app, learner="omar", interview=(NOW.date() + timedelta(days=4)).isoformat())
    at.number_input(key="budget-omar").set_value(2).run()
    assert not at.exception
    assert open_store(app.database).daily_minutes("omar") == 2
    warning = plain(" ".join(w.value for w in at.warning))
    assert "2 minutes a day is 1 review" in warning and "not enough to cover the bank" in warning
    assert "minutes a day would cover them all" in warning
    again = progress_page(app, learner="OMAR", interview=(NOW.date() + timedelta(days=4)).isoformat())
    assert again.number_input(key="budget-omar").value == 2  # stored with the learner, not the session
    again.number_input(key="budget-omar").set_value(30).run()
    assert "every question comes up before the interview" in plain(" ".join(i.value for i in again.info))
    again.number_input(key="budget-omar").set_value(0).run()
    assert open_store(app.database).daily_minutes("omar") is None


def test_weak_questions_are_listed_and_practise_these_opens_them(app):
    store = open_store(app.database)
    ids = [q.id for q in app.index.questions]
    store.record_review("pia", ids[1], "again", now=NOW - timedelta(minutes=30))
    store.record_review("pia", ids[2], "good", now=NOW - timedelta(minutes=20))
    at = progress_page(app, learner="pia")
    text = plain(all_text(at))
    assert "New 1 · Learning 2 · Review 0" in text
    titles = {q.id: q.title for q in app.index.questions}
    assert f"1. {titles[ids[1]]}" in text and titles[ids[2]] not in text.split("Weakest questions")[-1]
    at.button(key="practise-weak").click().run()
    assert not at.exception
    assert at.session_state["view"] == "Practice"
    line = summary_line(at)
    assert "from your weak questions" in line


def test_the_revision_sheet_can_be_only_the_weak_questions(app):
    store = open_store(app.database)
    ids = [q.id for q in app.index.questions]
    titles = {q.id: q.title for q in app.index.questions}
    store.record_review("quinn", ids[0], "hard", now=NOW - timedelta(hours=1))
    at = app(learner="quinn")
    at.query_params["view"] = "Revision sheet"
    at.run()
    sheet = lambda: plain(" ".join(m.value for m in at.markdown))  # noqa: E731
    assert all(titles[q] in sheet() for q in ids)
    at.toggle(key="revision_weak").set_value(True).run()
    assert not at.exception
    assert titles[ids[0]] in sheet() and not any(titles[q] in sheet() for q in ids[1:])
    assert "1 weak question:" in captions(at)


def test_the_topic_map_can_be_coloured_by_readiness(app):
    store = open_store(app.database)
    first = app.index.questions[0]
    store.record_review("rae", first.id, "easy", now=NOW - timedelta(days=1))
    at = app(learner="rae")
    at.query_params["view"] = "Topic map"
    at.run()
    assert "Predicted recall per question" not in captions(at)
    at.segmented_control(key="map_colour").set_value("My readiness").run()
    assert not at.exception
    said = next(plain(c.value) for c in at.caption if "Predicted recall per question" in plain(c.value))
    assert said.startswith("Predicted recall per question, least ready first:") and " 0%;" in said
    assert said.endswith("98%.")  # the one practised, Easy a day ago, is the readiest


def test_the_learner_can_be_changed_on_the_practice_page(app):
    at = app().run()
    assert "Practising as **default**" in summary_line(at)
    at.text_input(key="learner_inline").input("Sam").run()
    assert not at.exception
    assert "Practising as **Sam**" in summary_line(at)
    assert at.sidebar.text_input(key="learner").value == "Sam"


def test_the_keys_are_said_on_the_page(app):
    at = app(learner="tom").run()
    assert keys.HINT_BEFORE in captions(at)
    at.button(key="reveal").click().run()
    assert "1 Again, 2 Hard, 3 Good, 4 Easy" in captions(at)
    assert "Ctrl+Enter" in keys.HINT_RATE and "st-key-rate-" in keys.KEYS_SCRIPT


def test_a_fixed_clock_from_the_environment(monkeypatch):
    monkeypatch.setenv("MLPREP_NOW", "2026-12-06T09:30:00+01:00")
    assert practice.now().isoformat() == "2026-12-06T08:30:00+00:00"
    monkeypatch.setenv("MLPREP_NOW", "yesterday")
    with pytest.raises(ValueError, match="MLPREP_NOW=.* is not an ISO time.*unset it"):
        practice.now()
    monkeypatch.delenv("MLPREP_NOW")
    assert practice.now().tzinfo is not None


def test_chart_texts_give_every_figure():
    topics = [TopicReadiness("nlp", 2, 0.5, 0.25), TopicReadiness("evaluation", 3, 0.1, 0.05)]
    _, text = charts.readiness_chart(topics)
    assert text.startswith("Readiness per topic, weakest first: evaluation 10%, 5% at the interview (3 questions)")
    assert "nlp 50%, 25% at the interview (2 questions)" in text
    days = [ForecastDay(date(2026, 12, 6), ("a", "b"), 4, 2), ForecastDay(date(2026, 12, 7), ("c",), 1, 0)]
    _, text = charts.forecast_chart(days, capacity=6)
    assert "3 question-days planned over 2 days" in text and "today 2 (2 new)" in text
    assert "06 Dec 2 , 07 Dec 1".replace(" ,", ",") in text and "Each day fits 6 reviews" in text
    _, text = charts.calendar_chart({date(2026, 12, 1): 3, date(2026, 12, 4): 5, date(2025, 1, 1): 9},
                                    today=date(2026, 12, 6))
    assert text.startswith("8 reviews on 2 of the last") and "most on Fri 04 Dec (5)" in text
