"""Key retrieval behaviours on the real bank with the real model (the full evaluation is `make eval`)."""

from __future__ import annotations

import numpy as np
import pytest

from index import open_index
from bench.eval import fit_logistic
from index.search import NO_MATCH_FEATURES, acronym_expansions, detect_intent, expand_acronyms


@pytest.fixture(scope="module")
def idx(real_index):
    return open_index(real_index)


@pytest.mark.model
@pytest.mark.parametrize("query, expected", [
    ("RF vs GBM", {"gradient-boosting", "random-forest"}),
    ("what is PSI", {"model-drift"}),
    ("stochastik gradient decent", {"gradient-descent-variants"}),
    ("my model looks great offline but falls apart once it is live", {"feature-leakage", "model-drift"}),
])
def test_question_first(idx, query, expected):
    assert idx.search(query, k=5).hits[0].question_id in expected


@pytest.mark.model
@pytest.mark.parametrize("query", ["RF vs GBM", "what is PSI", "how do I detect leakage"])
def test_bank_query_is_not_flagged(idx, query):
    assert not idx.search(query).no_close_match


@pytest.mark.model
@pytest.mark.parametrize("query", ["how do I bake sourdough bread", "cheap flights to Lisbon in March"])
def test_off_topic_query_has_no_close_match(idx, query):
    assert idx.search(query).no_close_match


@pytest.mark.model
def test_section_intent_puts_that_section_first(idx):
    result = idx.search("common mistakes with cross validation", k=5)
    assert result.section_intent == "mistakes"
    assert result.hits[0].chunk_id == "cross-validation#mistakes"


@pytest.mark.model
def test_typo_is_repaired_but_real_words_are_not(idx):
    assert idx.search("atention mechanism").corrected == {"atention": "attention"}
    assert idx.search("how does a car engine work").corrected == {}


@pytest.mark.model
def test_related_never_returns_itself_and_finds_the_sibling(idx):
    for q in idx.questions:
        assert q.id not in [r.question_id for r in idx.related(q.id, k=3)]
    assert "random-forest" in [r.question_id for r in idx.related("gradient-boosting", k=3)]


def test_acronyms_come_from_the_aliases():
    class Q:
        def __init__(self, title, aliases):
            self.title, self.aliases = title, aliases

    table = acronym_expansions([Q("What is model drift?", ("PSI", "population stability index", "KS test",
                                                           "Kolmogorov-Smirnov")),
                                Q("How does boosting work?", ("GBM", "gradient boosted trees"))])
    assert table == {"psi": "population stability index", "ks": "kolmogorov smirnov",
                     "gbm": "gradient boosted trees"}
    assert expand_acronyms("what is psi", table) == "what is psi (population stability index)"
    assert expand_acronyms("weather tomorrow", table) == "weather tomorrow"


@pytest.mark.parametrize("query, section, rest", [
    ("give me a real-world case of self-attention", "example", "self-attention"),
    ("what do people get wrong about overfitting", "mistakes", "overfitting"),
    ("what happened in production when leakage slipped through", "story", "leakage slipped through"),
    ("cross validation tl;dr", "short", "cross validation"),
    ("how does boosting work in detail", "explanation", "how does boosting work"),
    ("summary statistics of drift", None, "summary statistics of drift"),
])
def test_section_intent_phrasings(query, section, rest):
    assert detect_intent(query) == (section, rest)


def test_fit_logistic_separates_and_maps_back_to_raw_features():
    x = np.array([[0.1, 5.0], [0.2, 7.0], [0.15, 6.0], [0.6, 5.5], [0.7, 6.5], [0.65, 7.2]])
    y = np.array([0.0, 0.0, 0.0, 1.0, 1.0, 1.0])
    weights, bias = fit_logistic(x, y, l2=0.1)
    probs = 1 / (1 + np.exp(-(x @ weights + bias)))
    assert (probs[y == 1] > 0.5).all() and (probs[y == 0] < 0.5).all()
    assert weights[0] > 0


@pytest.mark.model
def test_sentence_and_name_fields_load_with_the_index(idx):
    assert idx.sentence_vectors.shape[0] > len(idx.chunk_ids)
    assert idx.name_vectors.shape[0] >= len(idx.questions)
    assert len(NO_MATCH_FEATURES) == len(idx.config.no_match_weights)
    assert idx.no_match_features("what is PSI").shape == (len(NO_MATCH_FEATURES),)


@pytest.mark.model
def test_a_name_the_user_typed_wins(idx):
    # "Kolmogorov-Smirnov" is one of model-drift's aliases; without the name rule feature-leakage ranked first
    assert idx.plan("kolmogorov smirnov test on features").named == {idx.question_row["model-drift"]}
    assert idx.search("kolmogorov smirnov test on features", k=3).hits[0].question_id == "model-drift"


@pytest.mark.model
@pytest.mark.parametrize("query, section", [
    ("story about feature leakage", "story"),  # the intent section first, though the short answer repeats the words
    ("vanishing gradients in deep networks", "short"),  # no intent: the card opens on the short answer
])
def test_the_result_opens_on_the_section_asked_for(idx, query, section):
    hits = idx.search(query, k=5).hits
    assert hits[0].section == section
    first_of = {}
    for hit in hits:  # every question's first hit is that section, and the questions keep their order
        first_of.setdefault(hit.question_id, hit.section)
    assert set(first_of.values()) == {section}


def test_name_phrases_skip_common_words_and_keep_the_longest_name():
    from types import SimpleNamespace

    from index.query import NamePhrases

    bank = [SimpleNamespace(id="model-drift", aliases=("data drift", "PSI", "monitoring")),
            SimpleNamespace(id="model-monitoring", aliases=("monitoring", "alerts", "SLO")),
            SimpleNamespace(id="data-quality", aliases=("fit", "drift"))]
    names = NamePhrases.of(bank)
    assert "monitoring" not in names.rows  # one word naming two questions is no name
    assert "fit" not in names.rows  # a word of under four letters
    assert names.named("why is PSI high") == {0}
    assert names.named("data drift alerts") == {0, 1}  # "drift" alone is inside the longer name "data drift"
    assert names.named("nothing here") == frozenset()


def test_each_model_gets_the_values_fitted_for_it(fake_index):
    from index.search import MODEL_CONFIGS, SearchConfig, config_for

    index_dir, _, embedder = fake_index
    assert open_index(index_dir, embedder=embedder).config == SearchConfig(), "an unlisted model: the defaults"
    for name, values in MODEL_CONFIGS.items():
        assert values, f"{name}: no fitted values"
        config = config_for(name)
        assert all(getattr(config, key) == value for key, value in values.items())
        assert len(config.no_match_weights) == len(NO_MATCH_FEATURES)


@pytest.mark.model
def test_a_repaired_typo_is_reported_as_the_query_searched(idx):
    result = idx.search("what is overfitnig")
    assert result.corrected_query == "what is overfitting"
    assert result.hits[0].question_id == "overfitting"


@pytest.mark.model
def test_cancer_screening_shows_the_explanation_passage_and_sets_apart_what_shares_nothing(idx):
    from index.results import matching_passage, split_loose

    result = idx.search("precision recall tradeoff for cancer screening", k=20)
    first = result.groups[0]
    assert first.question_id == "precision-vs-recall" and first.hits[0].section == "short"
    passage = matching_passage(idx, result, first)
    assert passage is not None and passage.heading == "Explanation"
    assert "cancer screening" in passage.text.lower() and {"cancer", "screening"} <= set(passage.terms)
    main, loose = split_loose(result.groups[:5])
    assert [g.question_id for g in main] == ["precision-vs-recall"]
    drift = next(g for g in loose if g.question_id == "model-drift")
    assert drift.hits[0].dense_score < 0.15 and not drift.hits[0].matched_terms, "the issue's 'similarity 0.08'"
