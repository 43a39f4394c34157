"""The search library: hybrid hits, filters, grouping, related questions, and the real bundled model."""

from __future__ import annotations

import numpy as np
import pytest

from index import QueryError, UnknownQuestion, open_index


@pytest.fixture
def idx(fake_index):
    index_dir, content_dir, embedder = fake_index
    return open_index(index_dir, embedder=embedder)


def test_hits_carry_both_legs_and_full_text(idx):
    result = idx.search("lasso ridge penalty", k=5)
    top = result.hits[0]
    assert top.question_id == "regularization"
    assert top.lexical_score > 0 and top.lexical_rank is not None
    assert -1.0 <= top.dense_score <= 1.0
    assert top.text == idx.question(top.question_id).section(top.section).text
    assert top.chunk_id == f"{top.question_id}#{top.section}"
    assert [h.score for h in result.hits] == sorted((h.score for h in result.hits), reverse=True)
    assert len(result.hits) == 5


def test_section_and_topic_filters(idx):
    only = idx.search("clustering customers", k=10, sections=["mistakes"])
    assert only.hits and {h.section for h in only.hits} == {"mistakes"}
    topical = idx.search("clustering customers", k=20, topics=["evaluation"])
    assert topical.hits and {h.question_id for h in topical.hits} == {"roc-auc"}


def test_groups_keep_question_order_and_all_hits(idx):
    result = idx.search("penalty weights", k=8)
    groups = result.groups
    assert sum(len(g.hits) for g in groups) == 8
    assert groups[0].question_id == result.hits[0].question_id
    assert len({g.question_id for g in groups}) == len(groups)


def test_intent_phrase_puts_that_section_first(idx):
    result = idx.search("common mistakes with k-means", k=5)
    assert result.section_intent == "mistakes"
    assert result.hits[0].chunk_id == "k-means#mistakes"


@pytest.mark.parametrize("query", ["", "   ", "\n\t", "\x00\x01"])
def test_blank_query_is_a_clear_error(idx, query):
    with pytest.raises(QueryError, match="blank"):
        idx.search(query)


@pytest.mark.parametrize("kwargs, message", [
    ({"k": 0}, "k must be"), ({"k": 5000}, "k must be"), ({"sections": ["examples"]}, "unknown section 'examples'"),
    ({"topics": ["cooking"]}, "unknown topic 'cooking'"),
])
def test_bad_arguments_are_clear_errors(idx, kwargs, message):
    with pytest.raises(QueryError, match=message):
        idx.search("auc", **kwargs)


def test_k_larger_than_the_bank_returns_every_section_once(idx):
    result = idx.search("model", k=1000)
    ids = [h.chunk_id for h in result.hits]
    assert len(ids) == len(set(ids)) <= 15


def test_related_never_returns_itself(idx):
    for q in idx.questions:
        related = idx.related(q.id, k=5)
        assert q.id not in [r.question_id for r in related]
        assert len(related) == 2  # the fixture bank has three questions
        assert related[0].score >= related[1].score


def test_unknown_question_suggests_ids(idx):
    with pytest.raises(UnknownQuestion, match=r"did you mean roc-auc\?"):
        idx.related("roc-acu")


@pytest.mark.model
def test_real_model_finds_leakage(real_index):
    idx = open_index(real_index)
    result = idx.search("how do I detect leakage", k=5)
    assert result.hits[0].question_id == "feature-leakage"
    assert not result.no_close_match


@pytest.mark.model
def test_real_model_section_filter_returns_only_that_section(real_index):
    idx = open_index(real_index)
    result = idx.search("story about a model that failed in production", k=10, sections=["story"])
    assert len(result.hits) == 10
    assert {h.section for h in result.hits} == {"story"}


@pytest.mark.model
def test_real_model_related_is_sensible(real_index):
    idx = open_index(real_index)
    related = [r.question_id for r in idx.related("random-forest", k=3)]
    assert "gradient-boosting" in related


def test_coverage_counts_query_words_spread_over_a_question_s_sections(idx):
    # "sparse" is only in regularization's example, "stabilised" only in its production story: no one section holds
    # both, the question does; a word no question holds lowers every question's share alike
    rows = np.arange(len(idx.questions))
    stems = idx.analyzer.tokens("sparse stabilised")
    share = dict(zip((q.id for q in idx.questions), idx._coverage(stems, rows)))
    assert share["regularization"] == pytest.approx(1.0)
    assert max(v for k, v in share.items() if k != "regularization") == 0.0
    assert not any(set(stems) <= set(idx.analyzer.tokens(s.text)) for s in idx.question("regularization").sections)
    partly = dict(zip((q.id for q in idx.questions), idx._coverage(idx.analyzer.tokens("sparse zzyzx"), rows)))
    assert 0.0 < partly["regularization"] < 1.0
    assert idx._coverage([], rows).tolist() == [0.0] * len(rows)


def test_holds_agrees_with_the_postings_for_every_stem(idx):
    # `holds` binary-searches bm25s's postings, which must therefore be ascending
    for lexicon, n in ((idx.lex_sections, len(idx.chunk_ids)), (idx.lex_titles, len(idx.questions))):
        documents = np.arange(n)
        for stem in lexicon._bm25.vocab_dict:
            assert lexicon.holds(stem, documents).tolist() == np.isin(documents, lexicon.postings(stem)).tolist()
        assert not lexicon.holds("zzyzx", documents).any()
