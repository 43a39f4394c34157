"""What a results list shows beyond the ranked hits (index/results.py) and the repaired query, on the fake-embedder
fixture bank: the loosely related set apart, the matching passage, "showing results for"."""

from __future__ import annotations

import dataclasses

import pytest

from index import open_index
from index.model import Hit, QuestionGroup, SearchResult
from index.results import LOOSE_FLOOR, LOOSE_SHARE, excerpt, is_loose, matching_passage, split_loose


@pytest.fixture
def idx(fake_index):
    index_dir, _, embedder = fake_index
    return open_index(index_dir, embedder=embedder)


def _group(qid: str, score: float, section: str = "short") -> QuestionGroup:
    hit = Hit(f"{qid}#{section}", qid, qid.title(), section, section.title(), "text", score, 0.1, 0.0, None, None)
    return QuestionGroup(qid, qid.title(), (), score, (hit,))


def test_loose_is_far_below_the_first_or_under_the_floor():
    assert not is_loose(LOOSE_SHARE * 10, 10) and is_loose(LOOSE_SHARE * 10 - 0.01, 10)
    assert is_loose(LOOSE_FLOOR - 0.01, 1.5) and not is_loose(LOOSE_FLOOR, LOOSE_FLOOR / LOOSE_SHARE)
    groups = [_group("a", 100.0), _group("b", 60.0), _group("c", LOOSE_SHARE * 100 - 0.01), _group("d", 0.5)]
    main, loose = split_loose(groups)
    assert [g.question_id for g in main] == ["a", "b"] and [g.question_id for g in loose] == ["c", "d"]


def test_the_first_question_is_never_loose_and_nothing_splits_to_nothing():
    main, loose = split_loose([_group("a", -2.0), _group("b", -3.0)])
    assert [g.question_id for g in main] == ["a"] and [g.question_id for g in loose] == ["b"]
    assert split_loose([]) == ([], [])


def test_a_search_sets_apart_the_questions_that_share_nothing_with_it(idx):
    result = idx.search("AUC churn customer", k=20)
    main, loose = split_loose(result.groups)
    assert [g.question_id for g in main] == ["roc-auc"]
    assert {g.question_id for g in loose} == {"k-means", "regularization"}


def _opening_on(result: SearchResult, qid: str, section: str) -> QuestionGroup:
    """`qid`'s group as if its result opened on `section` (the passage is about the section shown)."""
    group = next(g for g in result.groups if g.question_id == qid)
    first = next(h for h in group.hits if h.section == section)
    return dataclasses.replace(group, hits=(first, *[h for h in group.hits if h is not first]))


def test_the_matching_passage_holds_the_words_the_section_shown_lacks(idx):
    result = idx.search("AUC churn customer", k=20)
    group = _opening_on(result, "roc-auc", "short")
    passage = matching_passage(idx, result, group)
    assert passage is not None and passage.section == "example" and passage.heading == "Example"
    assert passage.text == "A churn model with AUC 0.85 ranks a churner above a loyal customer 85% of the time."
    assert set(passage.terms) >= {"churn", "customer"}


def test_no_passage_when_the_section_shown_holds_the_words(idx):
    result = idx.search("AUC churn customer", k=20)
    assert matching_passage(idx, result, _opening_on(result, "roc-auc", "example")) is None
    # a word the search spelled out (AUC → area under the curve) is not one the user typed
    result = idx.search("what does ROC AUC measure", k=20)
    assert "curv" not in result.terms and matching_passage(idx, result, _opening_on(result, "roc-auc", "short")) is None


def test_a_long_sentence_is_cut_around_the_word():
    sentence = " ".join(f"word{i}" for i in range(80)) + " cancer screening " + " ".join(f"tail{i}" for i in range(80))
    cut = excerpt(sentence, ["cancer"], limit=120)
    assert cut.startswith("…") and cut.endswith("…") and "cancer screening" in cut and len(cut) <= 122
    assert excerpt("Short one.", ["one"]) == "Short one."


def test_a_repaired_query_says_what_was_searched_and_can_be_searched_as_typed(idx):
    result = idx.search("what is regularizaton")
    assert result.corrected == {"regularizaton": "regularization"}
    assert result.corrected_query == "what is regularization"
    typed = idx.search("what is regularizaton", repair=False)
    assert typed.corrected == {} and typed.corrected_query is None
    assert idx.search("what is regularization").corrected_query is None
    assert SearchResult("Overfitnig now", [], False, corrected={"overfitnig": "overfitting"}).corrected_query \
        == "overfitting now"
