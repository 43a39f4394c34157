"""The no_close_match model: does anything in the bank answer this query?

A logistic model over NO_MATCH_FEATURES gives the probability that the bank answers the query; below
SearchConfig.no_match_threshold the result is flagged. The weights are fitted on the dev split of the
evaluation set (`python -m bench eval --calibrate`).
"""

from __future__ import annotations

import numpy as np

from .lexical import idf

NO_MATCH_FEATURES = ("best section or title cosine", "best sentence cosine", "best name cosine",
                     "fused score margin, top-1 minus top-2 question", "idf-weighted share of unknown words",
                     "share of known words", "best background-topic cosine")


def features(best_cos: float, best_sentence: float, best_name: float, question_score: np.ndarray,
             stems: list[str], lexicons, best_background: float) -> np.ndarray:
    """The NO_MATCH_FEATURES of one search.

    Args:
        best_cos, best_sentence, best_name: the best cosine of the query with a section or title, a sentence,
            a name.
        question_score: the fused score of every candidate question.
        stems: the query's stems (typos repaired).
        lexicons: the bank's lexical indexes; a stem's idf is taken over every document they hold.
        best_background: the best cosine of the query with a background topic the bank does not cover
            (ingest/background.py); 0 when the bank keeps none.
    """
    top = np.sort(question_score)[::-1]
    margin = float(top[0] - top[1]) if len(top) > 1 else 0.0
    n_docs = sum(lexicon.num_docs for lexicon in lexicons)
    distinct = list(dict.fromkeys(stems))
    df = [sum(lexicon.document_frequency(s) for lexicon in lexicons) for s in distinct]
    known = [n > 0 for n in df]
    weight = [idf(n, n_docs) for n in df]
    unknown_share = (sum(w for w, k in zip(weight, known) if not k) / sum(weight)) if distinct else 1.0
    coverage = (sum(known) / len(distinct)) if distinct else 0.0
    return np.array([best_cos, best_sentence, best_name, margin, unknown_share, coverage, best_background])


def empty() -> np.ndarray:
    """The features of a search that found no candidate at all."""
    return np.zeros(len(NO_MATCH_FEATURES))


def probability(weights, bias: float, x: np.ndarray) -> float:
    """The probability that the bank answers a query with features x."""
    z = float(np.dot(weights, x)) + bias
    return float(1.0 / (1.0 + np.exp(-np.clip(z, -50, 50))))
