"""Many users in one process: 16 threads × 500 searches on one shared Index (the app shares one through
st.cache_resource) give no error and exactly the results of the same queries run one at a time.

The threaded run uses a freshly opened Index, so the threads also race to load the query model and the stemmer.
"""

from __future__ import annotations

import threading
import time

import pytest

from index import QueryError, open_index

pytestmark = pytest.mark.model

THREADS = 16
PER_THREAD = 500
QUERIES = [
    "how do I detect leakage", "overfitting", "what is the bias variance tradeoff", "RF vs GBM", "random forest",
    "precision or recall for fraud", "example of cross validation", "common mistakes with gradient descent",
    "production story about model drift", "vanishing gradients in deep networks", "word2vec embeddings",
    "train validation test split", "supervised vs unsupervised", "attention mechanism in transformers",
    "classification vs regression", "adam vs sgd", "overfiting", "gradiant boosting", "what is a neural network",
    "ROC AUC", "k-means", "the of and", "???", "<script>alert(1)</script>", "déjà vu embeddings", "漢字 attention",
    "how to prevent data leakage in time series", "explain dropout", "tl;dr recall", "feature leakage mistakes",
    "batch normalization", "learning rate too high", "early stopping", "regularization l1 l2", "pizza recipe",
    "stock market prediction", "why do gradients explode", "class imbalance metrics", "when is accuracy misleading",
    "concept drift monitoring", "", "   ",
]


def answer(idx, query: str):
    """A comparable summary of one search: every hit's id and scores, the flags; or the error's message."""
    try:
        r = idx.search(query, k=5)
    except QueryError as exc:
        return ("QueryError", str(exc))
    return (r.query, r.no_close_match, r.section_intent, tuple(sorted(r.corrected.items())),
            tuple((h.chunk_id, h.score, h.dense_score, h.lexical_score, h.matched_terms) for h in r.hits))


def test_sixteen_threads_get_the_sequential_results(real_index):
    sequential_idx = open_index(real_index, check_stale=False)
    expected = {q: answer(sequential_idx, q) for q in QUERIES}
    assert sum(1 for v in expected.values() if v[0] == "QueryError") == 2  # the blank ones

    shared = open_index(real_index, check_stale=False)  # cold: the threads load its model and stemmer
    start = threading.Barrier(THREADS)
    errors: list[str] = []
    mismatches: list[str] = []
    done = [0] * THREADS

    def user(t: int):
        start.wait()
        for i in range(PER_THREAD):
            query = QUERIES[(t * 7 + i) % len(QUERIES)]
            try:
                got = answer(shared, query)
            except Exception as exc:  # noqa: BLE001 - any failure is the finding
                errors.append(f"thread {t}, query {query!r}: {exc!r}")
                continue
            if got != expected[query]:
                mismatches.append(f"thread {t}, query {query!r}")
            done[t] += 1

    threads = [threading.Thread(target=user, args=(t,)) for t in range(THREADS)]
    started = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    seconds = time.perf_counter() - started
    assert errors == []
    assert mismatches == []
    assert sum(done) == THREADS * PER_THREAD
    print(f"\n{THREADS} threads × {PER_THREAD} searches: {sum(done)} answered in {seconds:.1f} s, "
          f"no error, all equal to the sequential results")
